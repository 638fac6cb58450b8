"""The call-api under real gunicorn on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.procs import REPO_ROOT, VENV_BIN, Proc, free_port, http_ok, wait_until

CALL_API_DIR = REPO_ROOT / "services" / "call-api"
TEST_FACTORIES = "tests.support.factories"


def factory_path(name: str) -> str:
    return f"{TEST_FACTORIES}:{name}"


def child_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." — comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == parent:
            pids.append(int(entry.name))
    return sorted(pids)


class CallApiServer:
    def __init__(
        self,
        *,
        log_dir: Path,
        redis_url: str,
        factory: str = factory_path("create_echo_orchestrator"),
        workers: int = 2,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.port = port or free_port()
        self.workers = workers
        self.env = {
            "CALL_API_BIND": f"127.0.0.1:{self.port}",
            "CALL_API_WORKERS": str(workers),
            "CALL_API_REDIS_URL": redis_url,
            "CALL_API_ORCHESTRATOR_FACTORY": factory,
            "CALL_API_INSTANCE_NAME": f"call-api-test-{self.port}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO_ROOT),  # the test factories: tests.support.factories
            **(env or {}),
        }
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALL_API_")}
        env.update(self.env)
        cmd = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"]
        self.proc = Proc(f"call-api-{self.port}", cmd, log_dir=self.log_dir, env=env, cwd=CALL_API_DIR)
        self.proc.env = env  # exactly this environment, no CALL_API_* leaking in from the caller
        self.proc.start()
        self.proc.wait_ready(lambda: self.ready_workers() >= self.workers, timeout)
        return self

    def ready_workers(self) -> int:
        """Workers that logged "call-api worker ready" and are still alive."""
        if not http_ok(f"{self.http_url}/healthz"):
            return 0
        alive = set(self.worker_pids())
        return len(alive & {rec["pid"] for rec in self.log_records("call-api worker ready")})

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return child_pids(self.proc.pid)

    def log_records(self, message: str | None = None) -> Iterator[dict[str, Any]]:
        """The server's JSON log lines (optionally only those with this message)."""
        assert self.proc is not None
        for line in self.proc.output().splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if message is None or record.get("message") == message:
                yield record

    def wait_record(self, message: str, call_id: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for a JSON log line with this message (and call_id); return it."""
        found: list[dict[str, Any]] = []

        def logged() -> bool:
            found[:] = [
                r for r in self.log_records(message) if call_id is None or r.get("call_id") == call_id
            ]
            return bool(found)

        wait_until(logged, timeout, f"log line {message!r} of call {call_id}")
        return found[0]

    async def log_record(
        self, message: str, call_id: str | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """wait_record for async tests: waits in a thread so the test's event loop keeps running."""
        import asyncio

        return await asyncio.to_thread(self.wait_record, message, call_id, timeout)

    async def worker_of_call(self, call_id: str, timeout: float = 5.0) -> int:
        """The pid of the worker that accepted `call_id`, from its "call accepted" log line."""
        return int((await self.log_record("call accepted", call_id, timeout))["pid"])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=15.0)

    def __enter__(self) -> CallApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a minimal gateway client (the `websockets` library) -------------------------------------


async def expect_close(ws: Any, timeout: float = 5.0) -> tuple[int, str]:
    """Wait for the server to close, skipping any message before; (code, reason) of its close
    frame (1006 if it sent none)."""
    import asyncio

    from websockets.exceptions import ConnectionClosed

    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return 1006, ""
            return closed.rcvd.code, closed.rcvd.reason


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next server message as a dict (raises TimeoutError / ConnectionClosed)."""
    import asyncio

    async with asyncio.timeout(timeout):
        raw = await ws.recv()
    message: dict[str, Any] = json.loads(raw)
    return message


def call_start(call_id: str, **initial_vars: Any) -> str:
    return json.dumps({"event": "call_start", "payload": {"call_id": call_id, "initial_vars": initial_vars}})


def mediasoup_request(request_id: int | str, method: str = "router.getRtpCapabilities", **data: Any) -> str:
    payload = {"request_id": request_id, "method": method, "data": data}
    return json.dumps({"event": "mediasoup_request", "payload": payload})


CALL_TERMINATED = json.dumps({"event": "call_terminated"})


async def connect(url: str, headers: dict[str, str] | None = None) -> Any:
    """A WebSocket to the call-api; proxy=None: never through an HTTP proxy from the environment."""
    import websockets

    return await websockets.connect(
        url, additional_headers=headers or {}, open_timeout=10, max_size=None, proxy=None
    )


async def open_call(
    url: str, call_id: str, headers: dict[str, str] | None = None, **initial_vars: Any
) -> Any:
    """Connect, send call_start, return the socket once call_accepted arrived (AssertionError otherwise)."""
    ws = await connect(url, headers)
    await ws.send(call_start(call_id, **initial_vars))
    accepted = await recv_json(ws, 10.0)
    if accepted.get("event") != "call_accepted":
        await ws.close()
        raise AssertionError(f"call {call_id} not accepted: {accepted}")
    return ws
