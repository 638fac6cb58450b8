"""Imports every scenario module so that their @scenario registrations run, in this order (the
order of `python -m bench` and of its table)."""

import importlib

MODULES = [
    "callapi",
    "gateway",
    "media",
    "caller_tap",
    "media_memory",
    "security",
    "capacity",
    "pacing_pass",
    "call",
    "sip",
    "false_barge_in",
    "soak",
]

for module in MODULES:
    importlib.import_module(f"bench.{module}")
