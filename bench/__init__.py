"""Benchmarks, run with `python -m bench` (or `make bench`) from the repository root.

A scenario is an async function registered with @scenario("name"); it gets the running stack and
returns its measurements. New scenarios live in their own module, imported in bench/__main__.py."""
