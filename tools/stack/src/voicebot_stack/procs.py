"""Child processes for the tests and the bench: start on loopback with free ports, wait until ready, stop.

Every wait polls a real condition with a deadline; nothing sleeps and hopes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    return free_ports(1, kind)[0]


def free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    """`count` distinct free loopback ports (held together while chosen, so all different)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_sip_port() -> int:
    """A loopback port free for UDP and for TCP at once: SIPp binds its `-p` port for the transport
    it runs (`-t u1` or `-t t1`), and a port free for UDP may still be busy, or in TIME_WAIT, for TCP."""
    while True:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
        finally:
            udp.close()
            tcp.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    """A child process whose stdout+stderr are captured to a file and kept in memory."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.env = {**(os.environ if inherit_env else {}), **(env or {})}
        self.cwd = str(cwd) if cwd else None
        self.log_path = Path(log_dir) / f"{name}.log"
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._new_line = threading.Condition(self._lock)
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self) -> None:
        assert self.popen and self.popen.stdout
        with open(self.log_path, "ab") as sink:
            for raw in self.popen.stdout:
                sink.write(raw)
                sink.flush()
                with self._lock:
                    self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                    self._new_line.notify_all()

    @property
    def pid(self) -> int:
        assert self.popen
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def log_records(self, message: str | None = None) -> Iterator[dict[str, Any]]:
        """The process's JSON log lines (optionally only those with this message)."""
        with self._lock:
            lines = list(self.lines)
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if message is None or record.get("message") == message:
                yield record

    def wait_line(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        """Wait for an output line matching `pattern` (searched from line index `start`)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self._lock:
            while True:
                while index < len(self.lines):
                    match = regex.search(self.lines[index])
                    index += 1
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.popen is not None and self.popen.poll() is not None):
                    tail = "\n".join(self.lines[-30:])
                    raise TimeoutError(f"{self.name}: no line matching {pattern!r}; last output:\n{tail}")
                self._new_line.wait(min(remaining, 0.2))

    def wait_logged(self, check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Wait until `check()`, a test on this process's output, holds: re-tested at each new line.
        A line the process wrote before an event the caller saw (an answer, a closed socket) may
        still be in the pipe to the pump thread, so a log read right after such an event waits here."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = len(self.lines)
            if check():  # outside the lock: it reads `output()` or `lines`
                return
            with self._lock:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    tail = "\n".join(self.lines[-30:])
                    raise TimeoutError(f"{self.name}: timed out after {timeout}s waiting for {what}:\n{tail}")
                if len(self.lines) == seen:  # nothing new since the test: sleep until a line comes
                    self._new_line.wait(min(remaining, 0.5))

    def wait_ready(self, check: Callable[[], bool], timeout: float = 30.0) -> Proc:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            return check()

        wait_until(ready, timeout, f"{self.name} to be ready")
        return self

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.popen:
            return
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        else:
            try:  # reap anything left in its process group
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
