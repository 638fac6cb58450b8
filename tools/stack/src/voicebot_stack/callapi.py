"""The call-api under real gunicorn on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from voicebot_stack import credentials, specs
from voicebot_stack.launch import process, start_until_ready
from voicebot_stack.probes import http_ok
from voicebot_stack.procs import Proc, free_port, wait_until
from voicebot_stack.procstat import children

# The orchestrator factories of the test support code (the echo orchestrator and its kin), by
# dotted path: they used to live in call_api.orchestrator.testing, now in tests/support/factories.py.
TEST_FACTORIES = "tests.support.factories"  # the test orchestrators (repo root on PYTHONPATH)


def factory_path(name: str) -> str:
    return f"{TEST_FACTORIES}:{name}"


class CallApiServer:
    def __init__(
        self,
        *,
        log_dir: Path,
        redis_url: str,
        factory: str | None = None,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.port = port or free_port()
        self.workers = workers
        self.spec = specs.call_api(
            self.port,
            instance=f"call-api-test-{self.port}",
            redis_url=redis_url,
            workers=workers,
            factory=factory or factory_path("create_echo_orchestrator"),
            extra_env=env,
        )
        self.env = dict(self.spec.env)
        self.proc: Proc | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/call"

    @property
    def instance(self) -> str:
        return self.env["CALL_API_INSTANCE_NAME"]

    def start(self, timeout: float = 30.0) -> CallApiServer:
        self.proc = process(self.spec, self.log_dir)
        start_until_ready(self.proc, self._all_workers_ready, timeout)
        return self

    def _all_workers_ready(self) -> bool:
        # Every worker, not just the first to answer: a test's calls may land on any of them.
        return self.spec.ready() and self.ready_workers() >= self.workers

    def ready_workers(self) -> int:
        """Workers that logged "call-api worker ready" and are still alive."""
        if not http_ok(f"{self.http_url}/healthz"):
            return 0
        alive = set(self.worker_pids())
        return len(alive & {rec["pid"] for rec in self.log_records("call-api worker ready")})

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return children(self.proc.pid)

    def log_records(self, message: str | None = None) -> Iterator[dict[str, Any]]:
        """The server's JSON log lines (optionally only those with this message)."""
        assert self.proc is not None
        return self.proc.log_records(message)

    def wait_record(self, message: str, call_id: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        """Wait for a JSON log line with this message (and call_id); return it."""
        found: list[dict[str, Any]] = []

        def logged() -> bool:
            wanted = None if call_id is None else {call_id, credentials.scoped_call_id(call_id)}
            found[:] = [r for r in self.log_records(message) if wanted is None or r.get("call_id") in wanted]
            return bool(found)

        wait_until(logged, timeout, f"log line {message!r} of call {call_id}")
        return found[0]

    async def log_record(
        self, message: str, call_id: str | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        """wait_record for async tests: waits in a thread so the test's event loop keeps running."""
        return await asyncio.to_thread(self.wait_record, message, call_id, timeout)

    async def worker_of_call(self, call_id: str, timeout: float = 20.0) -> int:
        """The pid of the worker that accepted `call_id`, from its "call accepted" log line."""
        return int((await self.log_record("call accepted", call_id, timeout))["pid"])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=15.0)

    def __enter__(self) -> CallApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
