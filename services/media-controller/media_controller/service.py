"""The one persistent WebSocket to the mediasoup service (docs/internal-protocol.md).

Requests carry ids and are matched to responses; notifications go to a callback. The connection is
re-established with backoff forever; every loss is reported once through `on_down` so the calls on
it can fail fast. Idempotent methods are retried (bounded attempts, per-attempt timeout); others
are sent exactly once."""

import asyncio
import enum
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_exponential_jitter,
)
from voicebot_protocol.media_service import (
    IDEMPOTENT_METHODS,
    ServiceNotification,
    ServiceRequest,
    ServiceResponse,
    protocol_version_problem,
)
from voicebot_protocol.states import StateHolder, StateTable

from media_controller import metrics
from media_controller.errors import ServiceRequestFailed, ServiceUnavailable
from media_controller.tracing import service_span

log = logging.getLogger(__name__)

NotificationHandler = Callable[[ServiceNotification], None]
DownHandler = Callable[[str], None]


class LinkState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


LINK_STATES = StateTable(
    "service link",
    {
        LinkState.IDLE: {LinkState.CONNECTING, LinkState.CLOSED},
        LinkState.CONNECTING: {LinkState.CONNECTED, LinkState.CLOSED},
        LinkState.CONNECTED: {LinkState.CONNECTING, LinkState.CLOSED},
        LinkState.CLOSED: set(),
    },
)


class MediasoupService:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        on_notification: NotificationHandler,
        on_down: DownHandler,
        timeout: float = 2.0,
        attempts: int = 3,
        reconnect_max_delay: float = 2.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.attempts = attempts
        self.reconnect_max_delay = reconnect_max_delay
        self._on_notification = on_notification
        self._on_down = on_down
        self._state = StateHolder(LINK_STATES, LinkState.IDLE)
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def state(self) -> LinkState:
        return self._state.state

    def _move(self, new: LinkState) -> None:
        self._state.advance(new)

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._move(LinkState.CONNECTING)
        self._task = asyncio.create_task(self._run(), name="mediasoup-service-link")

    async def close(self) -> None:
        if self.state is LinkState.CLOSED:
            return
        self._move(LinkState.CLOSED)
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        self._fail_pending("media-controller shutting down")
        if self._http:
            await self._http.close()

    # --- requests -------------------------------------------------------------------------------

    async def request(
        self, method: str, params: dict[str, Any], traceparent: str | None = None
    ) -> dict[str, Any]:
        """The response's data; raises ServiceRequestFailed (ok=false) or ServiceUnavailable.
        One span per command (retries included), its traceparent sent in the request's `trace`."""
        started = time.monotonic()
        outcome = "ok"
        try:
            with service_span(method, params.get("call_id"), traceparent) as sent_traceparent:
                data = await self._request(method, params, sent_traceparent)
            if method == "session.open" and (problem := protocol_version_problem(data)):
                raise ServiceRequestFailed("protocol_mismatch", problem)
            return data
        except ServiceRequestFailed:
            outcome = "refused"
            raise
        except BaseException:
            outcome = "unavailable"
            raise
        finally:
            metrics.SERVICE_REQUEST_SECONDS.labels(method, outcome).observe(time.monotonic() - started)

    async def _request(self, method: str, params: dict[str, Any], traceparent: str | None) -> dict[str, Any]:
        if method not in IDEMPOTENT_METHODS:
            return await self._request_once(method, params, traceparent)

        def count_retry(state: RetryCallState) -> None:
            metrics.SERVICE_RETRIES.labels(method).inc()
            log.warning(
                "retrying mediasoup service request",
                extra={
                    "method": method,
                    "attempt": state.attempt_number,
                    "error": str(state.outcome.exception()) if state.outcome else None,
                },
            )

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            retry=retry_if_exception_type(ServiceUnavailable),
            before_sleep=count_retry,
            reraise=True,
        ):
            with attempt:
                return await self._request_once(method, params, traceparent)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request_once(
        self, method: str, params: dict[str, Any], traceparent: str | None
    ) -> dict[str, Any]:
        ws = self._ws
        if not self.connected or ws is None:
            raise ServiceUnavailable("mediasoup service is not connected")
        request_id = next(self._ids)
        request = ServiceRequest(
            id=request_id,
            method=method,
            params=params,
            trace={"traceparent": traceparent} if traceparent else None,
        )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send_str(request.model_dump_json(exclude_none=True))
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            raise ServiceUnavailable(
                f"mediasoup service did not answer {method} within {self.timeout}s"
            ) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise ServiceUnavailable(f"mediasoup service connection failed: {exc}") from None
        finally:
            self._pending.pop(request_id, None)

    # --- the link -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while self.state is not LinkState.CLOSED:
            ws = await self._connect()
            self._ws = ws
            self._move(LinkState.CONNECTED)
            self._connected.set()
            metrics.SERVICE_RECONNECTS.inc()
            log.info("connected to mediasoup service", extra={"url": self.url})
            reason = await self._read(ws)
            self._connected.clear()
            self._ws = None
            if self.state is LinkState.CLOSED:
                return
            self._move(LinkState.CONNECTING)
            log.critical("lost the mediasoup service connection", extra={"reason": reason})
            self._fail_pending(reason)
            self._on_down(reason)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        assert self._http is not None

        def log_retry(state: RetryCallState) -> None:
            if state.attempt_number in (1, 10) or state.attempt_number % 50 == 0:
                log.warning(
                    "cannot connect to mediasoup service",
                    extra={
                        "url": self.url,
                        "attempt": state.attempt_number,
                        "error": str(state.outcome.exception()) if state.outcome else None,
                    },
                )

        async for attempt in AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.05, max=self.reconnect_max_delay),
            retry=retry_if_exception_type((aiohttp.ClientError, OSError, TimeoutError)),
            before_sleep=log_retry,
        ):
            with attempt:
                return await self._http.ws_connect(
                    self.url,
                    headers={"Authorization": f"Bearer {self.secret}"},
                    heartbeat=5.0,
                    timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                    max_msg_size=4 * 1024 * 1024,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self._dispatch(message.data)
            elif message.type is aiohttp.WSMsgType.ERROR:
                return f"mediasoup service connection error: {ws.exception()}"
        return f"mediasoup service connection closed (code {ws.close_code})"

    def _dispatch(self, raw: str) -> None:
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise ValueError("not an object")
            if "notification" in frame:
                notification = ServiceNotification.model_validate(frame)
            else:
                notification = None
                response = ServiceResponse.model_validate(frame)
        except (ValueError, ValidationError) as exc:
            log.warning(
                "ignoring a malformed frame from the mediasoup service", extra={"error": str(exc)[:200]}
            )
            return
        if notification is not None:
            try:
                self._on_notification(notification)
            except Exception:
                log.exception(
                    "handling a mediasoup service notification failed",
                    extra={"notification": notification.notification},
                )
            return
        future = self._pending.get(response.id)
        if future is None or future.done():
            log.warning("response to an unknown or expired request", extra={"request_id": response.id})
        elif response.ok:
            future.set_result(response.data or {})
        else:
            error = response.error
            future.set_exception(
                ServiceRequestFailed(
                    error.code if error else "internal", error.message if error else "request failed"
                )
            )

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ServiceUnavailable(reason))
        self._pending.clear()
