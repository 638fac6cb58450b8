"""Proc.wait_logged: a test of a child's log waits for the line, however late the pipe brings it."""

import sys
from pathlib import Path

import pytest
from voicebot_stack.procs import Proc

# The line comes only once the test has written "go" to a file: it is certainly not there at the
# first look, whatever the machine's speed.
LATE_LINE = """
import pathlib, sys, time
flag = pathlib.Path(sys.argv[1])
print("started", flush=True)
while not flag.exists():
    time.sleep(0.01)
print('{"event": "late"}', flush=True)
time.sleep(60)
"""


def test_wait_logged_returns_once_the_line_has_come(tmp_path: Path) -> None:
    flag = tmp_path / "go"
    proc = Proc("late", [sys.executable, "-c", LATE_LINE, str(flag)], log_dir=tmp_path).start()
    try:
        proc.wait_line("started", timeout=20)
        assert '"late"' not in proc.output()
        flag.touch()
        proc.wait_logged(lambda: '"late"' in proc.output(), "the late line", timeout=20)
        assert proc.lines[-1] == '{"event": "late"}'
    finally:
        proc.stop()


def test_wait_logged_names_what_never_came(tmp_path: Path) -> None:
    flag = tmp_path / "never"
    proc = Proc("silent", [sys.executable, "-c", LATE_LINE, str(flag)], log_dir=tmp_path).start()
    try:
        proc.wait_line("started", timeout=20)
        with pytest.raises(TimeoutError, match="the late line"):
            proc.wait_logged(lambda: '"late"' in proc.output(), "the late line", timeout=0.3)
    finally:
        proc.stop()
