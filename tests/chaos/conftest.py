"""The chaos suite: every row of the spec's fallback table, injected into a running back end.

`pytest tests/chaos` runs the short form (part of `make test`); `make chaos` adds `--chaos-full`
(the long variants: every failure mode of every provider, the 30 s Redis outage, nginx). Each test
records what it measured; the table is printed at the end of the run."""

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosStack, start_chaos_stack
from tests.chaos.report import ChaosReport, Row

REPORT = pytest.StashKey[ChaosReport]()
ROW = pytest.StashKey[Row]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-full", action="store_true", default=False, help="chaos suite: run the long variants too"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_full: long chaos variant, run only with --chaos-full")
    config.stash[REPORT] = ChaosReport()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--chaos-full", default=False):
        return
    skip = pytest.mark.skip(reason="long chaos variant: run with --chaos-full (make chaos)")
    for item in items:
        if "chaos_full" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    row = item.stash.get(ROW, None)
    if row is not None and (report.when == "call" or report.failed):
        if report.failed:
            row.outcome = "FAIL" if report.when == "call" else f"ERROR ({report.when})"
        elif report.when == "call":
            row.outcome = "ok" if report.passed else report.outcome
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash[REPORT].lines(width=max(140, shutil.get_terminal_size((160, 24)).columns))
    if lines:
        terminalreporter.section("chaos: the spec's fallback table, measured")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Row:
    """This test's row of the chaos table: set .fault and .promise, .measure() what was seen."""
    entry = request.config.stash[REPORT].row(request.node.nodeid)
    request.node.stash[ROW] = entry
    return entry


@pytest.fixture(scope="session")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    stack = start_chaos_stack(Path(tmp_path_factory.mktemp("chaos")))
    yield stack
    stack.stop()


@pytest.fixture
def stack(chaos_stack: ChaosStack) -> ChaosStack:
    """The shared stack, healthy, fakes answering normally, whatever the test before did to it."""
    chaos_stack.repair()
    return chaos_stack
