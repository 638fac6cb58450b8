"""One call on /api/v1/call, from the WebSocket handshake to the last released resource.

The spec's five steps: trace id from the headers; call_id and initial_vars from the first message
(call_start); the orchestrator factory; `orchestrator.run(websocket_in, websocket_out)`; on a factory
failure, call_failed and close. Every outcome (and its close code) is listed in docs/protocol.md."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry import trace
from starlette.websockets import WebSocket
from voicebot_protocol import (
    CallAccepted,
    CallEnded,
    CallFailed,
    CallStart,
    CallTerminated,
    ClientMessage,
    CloseCode,
    EndReason,
    ErrorCode,
    ErrorEvent,
    FailureCode,
    ProtocolError,
    ServerMessage,
    parse_client_message,
)
from voicebot_protocol.client import CallAcceptedPayload, ErrorPayload
from voicebot_tracing import new_trace_id, normalize_trace_id, parent_context_for
from voicebot_tracing.context import set_call

from call_api import metrics
from call_api.auth import Authenticator, GatewayIdentity
from call_api.auth.identity import ANONYMOUS, media_call_id
from call_api.call_codec import CALL_CODEC
from call_api.call_state import CallLifecycle, CallState
from call_api.client_socket import ClientSocket
from call_api.handshake import admit, deny_while_draining
from call_api.orchestrator.base import CallResult, Orchestrator, OrchestratorFactory, OrchestratorStartError
from call_api.registry import CallRegistry
from call_api.settings import Settings
from call_api.telemetry import traced

log = logging.getLogger(__name__)
tracer = trace.get_tracer("call_api.session")

CLOSE_CODE_FOR_END: dict[EndReason, CloseCode] = {
    EndReason.DIALOG_COMPLETED: CloseCode.NORMAL,
    EndReason.TRANSFERRED: CloseCode.NORMAL,
    EndReason.MEDIA_FAILURE: CloseCode.MEDIA_FAILURE,
    EndReason.PROVIDER_FAILURE: CloseCode.PROVIDER_FAILURE,
    EndReason.SERVER_SHUTDOWN: CloseCode.GOING_AWAY,
    EndReason.TOO_MANY_ERRORS: CloseCode.TOO_MANY_ERRORS,
    EndReason.INTERNAL_ERROR: CloseCode.INTERNAL_ERROR,
    EndReason.MAX_DURATION: CloseCode.NORMAL,
    EndReason.CALLER_SILENCE: CloseCode.NORMAL,
    EndReason.CLIENT_NOT_READING: CloseCode.CLIENT_NOT_READING,
}

# Before acceptance a bad first frame is refused with the close code that names the problem.
CLOSE_CODE_FOR_BAD_FIRST_FRAME: dict[ErrorCode, CloseCode] = {
    ErrorCode.BINARY_FRAME: CloseCode.UNSUPPORTED_DATA,
    ErrorCode.FRAME_TOO_LARGE: CloseCode.MESSAGE_TOO_BIG,
}


def trace_id_from_header(websocket: WebSocket) -> str | None:
    return normalize_trace_id(websocket.headers.get("x-trace-id"))


class CallSession:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        settings: Settings,
        registry: CallRegistry,
        factory: OrchestratorFactory,
        authenticator: Authenticator,
    ) -> None:
        self.websocket = websocket
        self.authenticator = authenticator
        self.identity: GatewayIdentity = ANONYMOUS
        self.settings = settings
        self.registry = registry
        self.factory = factory
        self.lifecycle = CallLifecycle()
        self.header_trace_id = trace_id_from_header(websocket)
        self.trace_id = self.header_trace_id or new_trace_id()
        self.call_id: str | None = None  # as the client named it (logs, messages, the factory)
        self.claim_id: str | None = None  # within the gateway's namespace: `<gateway>~<call_id>`
        self.token = registry.new_token()
        self.errors = 0
        self.socket = ClientSocket(
            websocket,
            settings.send_timeout,
            on_stalled=lambda why: self.request_end(
                EndReason.CLIENT_NOT_READING, f"the client stopped reading: {why}"
            ),
            queue_bytes=settings.send_queue_bytes,
        )
        self.end_request: tuple[EndReason, str] | None = None
        self._end_requested = asyncio.Event()
        self._tasks_stopping = False
        self._started_at = time.monotonic()

    # --- the whole call -----------------------------------------------------

    async def serve(self) -> None:
        set_call(None, self.trace_id)
        identity = await admit(self.websocket, self.authenticator)
        if identity is None:
            self.lifecycle.advance(CallState.CLOSED)
            return
        self.identity = identity
        if not identity.may_set_trace_id and self.header_trace_id is not None:
            self.header_trace_id = None  # an untrusted client cannot choose a trace id
            self.trace_id = new_trace_id()
            set_call(None, self.trace_id)
        if self.registry.draining:
            await deny_while_draining(self.websocket)
            self.lifecycle.advance(CallState.CLOSED)
            return
        try:
            await self.websocket.accept()
        except Exception:
            log.info("client left during the handshake")
            self.lifecycle.advance(CallState.CLOSED)
            return
        claimed = False
        call_span: trace.Span = trace.INVALID_SPAN
        try:
            if self.registry.draining:
                await self._refuse(
                    FailureCode.SERVER_DRAINING, "server is draining", CloseCode.TRY_AGAIN_LATER
                )
                return
            start = await self._receive_call_start()
            if start is None:
                return
            self.lifecycle.advance(CallState.STARTING)
            if self.identity.call_id is not None and self.identity.call_id != start.payload.call_id:
                await self._refuse(
                    FailureCode.UNAUTHORIZED, "the call token is for another call_id", CloseCode.UNAUTHORIZED
                )
                return
            self.call_id = start.payload.call_id
            # The claim and the media session are named within the gateway's namespace: another
            # gateway's call of the same call_id is another call (docs/security.md).
            self.claim_id = self.identity.scoped_call_id(start.payload.call_id)
            media_call_id.set(self.claim_id)
            if self.header_trace_id is None:
                self.trace_id = normalize_trace_id(start.payload.trace_id) or self.trace_id
            set_call(self.call_id, self.trace_id)
            parent = parent_context_for(self.trace_id, self.websocket.headers.get("traceparent"))
            with tracer.start_as_current_span(
                "call",
                context=parent,
                kind=trace.SpanKind.SERVER,
                attributes={"call.id": self.call_id, "call_api.instance": self.settings.instance},
            ) as call_span:
                if self.registry.draining:
                    await self._refuse(
                        FailureCode.SERVER_DRAINING, "server is draining", CloseCode.TRY_AGAIN_LATER
                    )
                    return
                with tracer.start_as_current_span("call_start"):
                    claimed = await self.registry.claim(self.claim_id, self, self.token)
                if not claimed:
                    await self._refuse(
                        FailureCode.DUPLICATE_CALL,
                        f"call {self.call_id} is already active",
                        CloseCode.DUPLICATE_CALL,
                    )
                    return
                CALL_CODEC.set(start.payload.codec or "opus")  # for the factory (call_codec.py)
                orchestrator = await self._create_orchestrator(start.payload.initial_vars)
                if orchestrator is None:
                    return
                try:
                    with metrics.ACTIVE_CALLS.track_inprogress():
                        await self._run(orchestrator)
                finally:
                    await self._close_orchestrator(orchestrator)
        except Exception:
            log.exception("call failed unexpectedly")
            await self._end_unexpectedly()
        finally:
            if claimed and self.claim_id is not None:
                with trace.use_span(call_span):  # the release's Redis command belongs to the call
                    await self.registry.release(self.claim_id, self.token)
            await self._close(CloseCode.INTERNAL_ERROR, "internal_error")
            self.lifecycle.advance(CallState.CLOSED)
            log.info(
                "call closed",
                extra={
                    "duration_s": round(time.monotonic() - self._started_at, 3),
                    "bad_frames": self.errors,
                    "client_close_code": self.socket.disconnect_code,
                },
            )

    def request_end(self, reason: EndReason, message: str) -> None:
        """Ask the running call to end with call_ended (drain, too many bad frames). Idempotent."""
        if self.end_request is None:
            self.end_request = (reason, message)
        self._end_requested.set()

    # --- step 2: the first message ----------------------------------------------

    async def _receive_call_start(self) -> CallStart | None:
        timeout = self.settings.call_start_timeout
        try:
            async with asyncio.timeout(timeout):
                raw = await self._receive_frame()
        except TimeoutError:
            await self._refuse(
                FailureCode.CALL_START_TIMEOUT,
                f"no call_start within {timeout:g}s",
                CloseCode.CALL_START_TIMEOUT,
            )
            return None
        if raw is None:
            log.info("client left before call_start")
            return None
        try:
            message = parse_client_message(raw, self.settings.max_frame_bytes)
        except ProtocolError as exc:
            close_code = CLOSE_CODE_FOR_BAD_FIRST_FRAME.get(exc.code, CloseCode.POLICY_VIOLATION)
            await self._refuse(FailureCode.PROTOCOL_ERROR, str(exc), close_code)
            return None
        if not isinstance(message, CallStart):
            await self._refuse(
                FailureCode.PROTOCOL_ERROR,
                f"{ErrorCode.UNEXPECTED_EVENT}: the first message must be call_start, got {message.event}",
                CloseCode.POLICY_VIOLATION,
            )
            return None
        return message

    # --- steps 3 and 5: the factory -------------------------------------------

    @traced("factory")
    async def _create_orchestrator(self, initial_vars: dict[str, Any]) -> Orchestrator | None:
        assert self.call_id is not None
        try:
            return await self.factory(self.call_id, self.trace_id, dict(initial_vars))
        except OrchestratorStartError as exc:
            log.warning(
                "orchestrator factory refused the call", extra={"reason": exc.reason, "code": exc.code}
            )
            await self._refuse(exc.code, exc.reason, CloseCode.ORCHESTRATOR_FAILED)
        except Exception:
            log.exception("orchestrator factory crashed")
            await self._refuse(
                FailureCode.ORCHESTRATOR_ERROR, "orchestrator unavailable", CloseCode.ORCHESTRATOR_FAILED
            )
        return None

    # --- step 4: the running call -----------------------------------------------

    async def _run(self, orchestrator: Orchestrator) -> None:
        assert self.call_id is not None
        self.lifecycle.advance(CallState.ACTIVE)
        await self.send(
            CallAccepted(payload=CallAcceptedPayload(call_id=self.call_id, trace_id=self.trace_id))
        )
        log.info("call accepted", extra={"instance": self.settings.instance})
        run_task = asyncio.create_task(
            orchestrator.run(self._incoming(), self.send), name=f"call:{self.call_id}:orchestrator"
        )
        end_wait = asyncio.create_task(self._end_requested.wait(), name=f"call:{self.call_id}:end-wait")
        keepalive = asyncio.create_task(self._keep_claim_alive(), name=f"call:{self.call_id}:claim-keepalive")
        time_limit = asyncio.get_running_loop().call_later(
            self.settings.max_call_seconds,
            self.request_end,
            EndReason.MAX_DURATION,
            f"the call reached its maximum duration ({self.settings.max_call_seconds:g} s)",
        )
        try:
            await asyncio.wait({run_task, end_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            time_limit.cancel()
            await self._stop_call_tasks(end_wait, keepalive, run_task)

        if self.end_request is not None:
            reason, message = self.end_request
        elif run_task.cancelled() or not run_task.done():  # not done: it ignored its cancellation
            reason, message = EndReason.INTERNAL_ERROR, "orchestrator cancelled"
        elif (exc := run_task.exception()) is not None:
            log.error("orchestrator run failed", exc_info=exc)
            reason, message = EndReason.INTERNAL_ERROR, "internal error"
        else:
            result: CallResult | None = run_task.result()
            if result is None:
                log.info("call ended by the client", extra={"terminated": not self.socket.gone})
                self._outcome("ended", "client_ended")
                self.lifecycle.advance(CallState.ENDING)
                await self._close(CloseCode.NORMAL, "call_terminated")
                return
            reason, message = result.reason, result.message
        await self._end(reason, message)

    async def _incoming(self) -> AsyncIterator[ClientMessage]:
        """websocket_in: valid messages only; bad frames are answered here, never reach the orchestrator."""
        while not self._end_requested.is_set():
            raw = await self._receive_frame()
            if raw is None:
                return
            try:
                message = parse_client_message(raw, self.settings.max_frame_bytes)
            except ProtocolError as exc:
                await self._bad_frame(exc.code, exc.message)
                continue
            if isinstance(message, CallStart):
                await self._bad_frame(ErrorCode.UNEXPECTED_EVENT, "call_start was already received")
                continue
            yield message
            if isinstance(message, CallTerminated):
                return

    async def _bad_frame(self, code: ErrorCode, message: str) -> None:
        self.errors += 1
        log.warning("bad frame mid-call", extra={"error_code": str(code), "bad_frames": self.errors})
        await self.send(ErrorEvent(payload=ErrorPayload(code=code, message=message)))
        if self.errors >= self.settings.max_errors_per_call:
            self.request_end(EndReason.TOO_MANY_ERRORS, f"{self.errors} bad frames")

    async def _stop_call_tasks(self, *tasks: asyncio.Task[Any]) -> None:
        """Cancel the call's tasks and wait for them, bounded: a task that swallows its
        cancellation (Python 3.11's asyncio.wait_for can, and redis-py uses it) must not keep the
        call, and with it the media session, open forever. Such a task is logged and left."""
        self._tasks_stopping = True
        for task in tasks:
            task.cancel()
        timeout = self.settings.orchestrator_close_timeout
        _, still_running = await asyncio.wait(tasks, timeout=timeout)
        if still_running:
            log.error(
                "call tasks ignored their cancellation",
                extra={"tasks": sorted(t.get_name() for t in still_running), "timeout_s": timeout},
            )

    async def _keep_claim_alive(self) -> None:
        assert self.claim_id is not None
        while not self._tasks_stopping:  # also ends a refresh that swallowed the cancellation
            await asyncio.sleep(self.settings.call_ttl_seconds / 3)
            await self.registry.refresh(self.claim_id, self.token)

    async def _close_orchestrator(self, orchestrator: Orchestrator) -> None:
        try:
            async with asyncio.timeout(self.settings.orchestrator_close_timeout):
                await orchestrator.aclose()
        except TimeoutError:
            log.error(
                "orchestrator aclose timed out", extra={"timeout_s": self.settings.orchestrator_close_timeout}
            )
        except Exception:
            log.exception("orchestrator aclose failed")

    # --- websocket_out and the socket -----------------------------------------------

    async def send(self, message: ServerMessage) -> None:
        """websocket_out: never raises; a message to a gone client is dropped."""
        await self.socket.send(message)

    async def _receive_frame(self) -> str | bytes | None:
        return await self.socket.receive()

    async def _refuse(self, code: FailureCode | str, reason: str, close_code: CloseCode) -> None:
        """Before acceptance: call_failed, then close."""
        self.lifecycle.advance(CallState.ENDING)
        self._outcome("refused", str(code))
        log.info(
            "call refused", extra={"failure_code": str(code), "reason": reason, "close_code": int(close_code)}
        )
        await self.send(CallFailed(reason=reason, code=str(code)))
        await self._close(close_code, str(code))

    async def _end(self, reason: EndReason, message: str) -> None:
        """After acceptance: call_ended, then close with the code of the reason."""
        self.lifecycle.advance(CallState.ENDING)
        close_code = CLOSE_CODE_FOR_END.get(reason, CloseCode.INTERNAL_ERROR)
        self._outcome("ended", str(reason))
        log.info("call ended by the server", extra={"end_reason": str(reason), "close_code": int(close_code)})
        await self.send(CallEnded(reason=message, code=str(reason)))
        await self._close(close_code, str(reason))

    def _outcome(self, outcome: str, reason: str) -> None:
        metrics.CALLS.labels(outcome, reason).inc()
        trace.get_current_span().set_attributes({"call.outcome": outcome, "call.reason": reason})

    async def _end_unexpectedly(self) -> None:
        if self.lifecycle.state in (CallState.ENDING, CallState.CLOSED):
            return
        if self.lifecycle.was_accepted:
            await self._end(EndReason.INTERNAL_ERROR, "internal error")
        else:
            await self._refuse(FailureCode.ORCHESTRATOR_ERROR, "internal error", CloseCode.INTERNAL_ERROR)

    async def _close(self, code: CloseCode, reason: str) -> None:
        await self.socket.close(code, reason)
