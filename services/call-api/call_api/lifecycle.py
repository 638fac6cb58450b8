"""Graceful drain of a worker process.

uvicorn's own shutdown (Server.shutdown) closes every open WebSocket at once with 1012 and only then
runs the ASGI lifespan shutdown, so a drain cannot live in the lifespan: it has to run before
Server.shutdown. call_api.worker.CallApiWorker does that: on SIGTERM its server first awaits `drain`,
then lets uvicorn shut down as usual (by then no call is left)."""

import logging
import time
from collections.abc import Awaitable, Callable

from voicebot_protocol import EndReason

from call_api.registry import CallRegistry

log = logging.getLogger(__name__)

# After the grace period: time for the ended calls to send call_ended, close and release.
END_TIMEOUT_SECONDS = 5.0


async def drain(
    registry: CallRegistry,
    grace_seconds: float,
    heartbeat: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Readiness turns 503 and new calls are refused at once; active calls go on for up to
    `grace_seconds`, then each ends with call_ended server_shutdown and close 1001."""
    registry.start_draining()
    log.warning("draining", extra={"active_calls": registry.active_calls, "grace_s": grace_seconds})
    deadline = time.monotonic() + grace_seconds
    # Wake at least every second to tell the gunicorn arbiter this worker is alive (its timeout).
    while (remaining := deadline - time.monotonic()) > 0:
        if await registry.wait_idle(min(remaining, 1.0)):
            log.info("drained: no call left")
            return
        if heartbeat is not None:
            await heartbeat()
    ended = registry.end_all(EndReason.SERVER_SHUTDOWN, "server shutting down")
    log.warning("grace period over; ending the remaining calls", extra={"active_calls": ended})
    if not await registry.wait_idle(END_TIMEOUT_SECONDS):
        log.error("calls still open after drain", extra={"active_calls": registry.active_calls})
