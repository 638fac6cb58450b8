"""Orchestrator factories for tests and benchmarks; pick one with
CALL_API_ORCHESTRATOR_FACTORY=tests.support.factories:<name> (gunicorn imports it with the
repo root on PYTHONPATH; it lives with the tests, not in the service package).

The echo orchestrator answers every mediasoup_request with a mediasoup_response carrying the request
back, greets with a play_audio and obeys a few test methods:
  test.hangup         → returns CallResult(dialog_completed)   (call_ended, close 1000)
  test.media_failure  → returns CallResult(media_failure)      (call_ended, close 4502)
  test.crash          → raises                                 (call_ended internal_error, close 1011)
  test.ignore_cancel  → answers, then swallows the call's cancellation and runs on until aclose()
                        (a task stuck like one in Python 3.11's asyncio.wait_for)
"""

import asyncio
import logging
from typing import Any

from call_api.orchestrator.base import CallResult, OrchestratorStartError, WebSocketIn, WebSocketOut
from voicebot_protocol import (
    EndReason,
    FailureCode,
    MediasoupRequest,
    MediasoupResponse,
    PlayAudio,
)
from voicebot_protocol.client import MediasoupResponsePayload, PlayAudioPayload

log = logging.getLogger(__name__)

GREETING_RTP_PORT = 40000

# In-process record of aclose() per call_id, for tests that run the app inside the test's loop.
_closed: dict[str, asyncio.Event] = {}


def closed_event(call_id: str) -> asyncio.Event:
    return _closed.setdefault(call_id, asyncio.Event())


class EchoOrchestrator:
    def __init__(self, call_id: str, trace_id: str, initial_vars: dict[str, Any]) -> None:
        self.call_id = call_id
        self.trace_id = trace_id
        self.initial_vars = initial_vars
        self.ticks = 0
        self._ticker: asyncio.Task[None] | None = None
        self.closed = False
        self._released = asyncio.Event()  # aclose() ran: a run ignoring its cancellation ends

    async def run(self, websocket_in: WebSocketIn, websocket_out: WebSocketOut) -> CallResult | None:
        # A background task of the call, like a real orchestrator's: aclose() must leave none behind.
        self._ticker = asyncio.create_task(self._tick(), name=f"echo-orchestrator:{self.call_id}:ticker")
        name = self.initial_vars.get("contact_name", "caller")
        await websocket_out(
            PlayAudio(
                payload=PlayAudioPayload(
                    stream_id=f"{self.call_id}:greeting", rtp_port=GREETING_RTP_PORT, text=f"Hello, {name}"
                )
            )
        )
        async for message in websocket_in:
            if not isinstance(message, MediasoupRequest):
                continue
            method = message.payload.method
            if method == "test.hangup":
                return CallResult(EndReason.DIALOG_COMPLETED, "dialog completed")
            if method == "test.media_failure":
                return CallResult(EndReason.MEDIA_FAILURE, "media server lost")
            if method == "test.crash":
                raise RuntimeError("test crash")
            if method == "test.ignore_cancel":
                await self._answer(websocket_out, message)
                await self._ignore_cancellation()
                continue
            await self._answer(websocket_out, message)
        return None

    async def _answer(self, websocket_out: WebSocketOut, request: MediasoupRequest) -> None:
        data = {"method": request.payload.method, "echo": request.payload.data}
        await websocket_out(
            MediasoupResponse(
                payload=MediasoupResponsePayload(request_id=request.payload.request_id, data=data)
            )
        )

    async def _ignore_cancellation(self) -> None:
        try:
            await asyncio.Event().wait()  # until the call's end cancels the run
        except asyncio.CancelledError:
            pass  # swallowed
        await self._released.wait()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.ticks += 1

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._released.set()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        log.info("test orchestrator closed")
        closed_event(self.call_id).set()


async def create_echo_orchestrator(
    call_id: str, trace_id: str, initial_vars: dict[str, Any]
) -> EchoOrchestrator:
    return EchoOrchestrator(call_id, trace_id, initial_vars)


async def create_tts_unavailable_orchestrator(
    call_id: str, trace_id: str, initial_vars: dict[str, Any]
) -> EchoOrchestrator:
    raise OrchestratorStartError("TTS unavailable", FailureCode.TTS_UNAVAILABLE)


async def create_crashing_orchestrator(
    call_id: str, trace_id: str, initial_vars: dict[str, Any]
) -> EchoOrchestrator:
    raise RuntimeError("the factory crashed")


async def _echo_startup() -> None:
    log.info("test factory startup")


async def _echo_shutdown() -> None:
    log.info("test factory shutdown")


# The optional per-worker hooks a factory may carry (run by the app's lifespan).
create_echo_orchestrator.startup = _echo_startup  # type: ignore[attr-defined]
create_echo_orchestrator.shutdown = _echo_shutdown  # type: ignore[attr-defined]
