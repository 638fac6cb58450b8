"""The contract between the call-api WebSocket endpoint and an Orchestrator.

The endpoint runs the spec's five steps:
    orchestrator = await factory(call_id, trace_id, initial_vars)   # raises OrchestratorStartError
    send CallAccepted
    result = await orchestrator.run(websocket_in, websocket_out)
    finally: await orchestrator.aclose()
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voicebot_protocol import ClientMessage, EndReason, FailureCode, ServerMessage

WebSocketIn = AsyncIterator[ClientMessage]
"""Valid client messages after call_start (mediasoup_request, playback_ack, call_terminated).
Bad frames never reach the orchestrator: the endpoint answers them. The iterator ends when the
client sends call_terminated or disconnects."""

WebSocketOut = Callable[[ServerMessage], Awaitable[None]]
"""Sends one protocol message to the client. Never raises: a send to a gone client is dropped."""


@dataclass(frozen=True)
class CallResult:
    """How run() ended a call the client did not end. The endpoint sends call_ended and closes."""

    reason: EndReason
    message: str


class OrchestratorStartError(Exception):
    """Raised by a factory that cannot start a call; `reason` goes to call_failed as is."""

    def __init__(self, reason: str, code: FailureCode = FailureCode.ORCHESTRATOR_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Orchestrator(Protocol):
    async def run(self, websocket_in: WebSocketIn, websocket_out: WebSocketOut) -> CallResult | None:
        """Drive the call until it ends. None: the client ended it (call_terminated / disconnect)."""
        ...

    async def aclose(self) -> None:
        """Release every resource of the call (tasks, media session, cache keys). Idempotent."""
        ...


class OrchestratorFactory(Protocol):
    async def __call__(self, call_id: str, trace_id: str, initial_vars: dict[str, Any]) -> Orchestrator: ...
