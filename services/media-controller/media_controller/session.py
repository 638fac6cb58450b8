"""One call's media session: its life cycle (opening, open, failed, closed), the events WebSocket
it waits for, and the signalling its client sends. The media itself is in its two legs
(bot_leg.py, caller_leg.py); what the client owns is in its ledger (ledger.py)."""

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Any

from voicebot_protocol.media import CallCodec, MediaFailure, SessionInfo
from voicebot_protocol.states import StateHolder, StateTable
from voicebot_tracing import traceparent_for

from media_controller import errors, metrics
from media_controller.bot_leg import BotLeg
from media_controller.call_codecs import CODECS
from media_controller.call_log import CallLogger
from media_controller.caller_leg import CallerLeg
from media_controller.errors import MediaError, ServiceUnavailable
from media_controller.ledger import BotConsumed, Change, ClientLedger, ProducerAdded, ProducerRemoved
from media_controller.legs import CallMedia
from media_controller.outbox import Outbox
from media_controller.policy import media_policy_of
from media_controller.ratelimit import TokenBucket
from media_controller.service import MediasoupService
from media_controller.settings import Settings
from media_controller.signalling import prepare_call, service_params
from media_controller.tracing import call_traceparent

log = logging.getLogger(__name__)


class SessionState(enum.Enum):
    OPENING = "opening"
    OPEN = "open"
    FAILED = "failed"  # the media plane under it died; waits for DELETE (or the orphan timeout)
    CLOSED = "closed"


SESSION_STATES = StateTable(
    "media session",
    {
        SessionState.OPENING: {SessionState.OPEN, SessionState.FAILED, SessionState.CLOSED},
        SessionState.OPEN: {SessionState.FAILED, SessionState.CLOSED},
        SessionState.FAILED: {SessionState.CLOSED},
        SessionState.CLOSED: set(),
    },
)


class Session:
    def __init__(
        self,
        call_id: str,
        trace_id: str | None,
        *,
        service: MediasoupService,
        settings: Settings,
        owner_of: Callable[[str], str | None],
        codec: CallCodec = "opus",
    ) -> None:
        self.call_id = call_id
        self.trace_id = trace_id
        self.service = service
        self.settings = settings
        self.owner_of = owner_of
        self.log = CallLogger(log, call_id, trace_id)
        # The span that opened the session (POST /v1/sessions): the parent of the commands the
        # session sends outside any request of the call (timers, UDP callbacks).
        self._opened_in = traceparent_for()
        self._state = StateHolder(SESSION_STATES, SessionState.OPENING)
        self.outbox = Outbox(settings.caller.audio_queue)
        self.router_rtp_capabilities: dict[str, Any] | None = None
        self.worker_pid: int | None = None
        self.ledger = ClientLedger()
        self.media_policy = media_policy_of(settings)
        self._signalling = TokenBucket(settings.policy.signalling_rate, settings.policy.signalling_burst)
        self.codec = CODECS[codec]
        media = CallMedia(call_id, self._request, self.outbox, self.log, settings, self.codec)
        self.bot = BotLeg(media, self.ledger)
        self.caller = CallerLeg(media, self.ledger, self.bot)
        self._orphan_timer: asyncio.TimerHandle | None = None
        self.on_orphaned: Callable[[Session], None] | None = None

    @property
    def state(self) -> SessionState:
        return self._state.state

    def info(self) -> SessionInfo:
        return SessionInfo(
            call_id=self.call_id,
            bot_producer_id=self.bot.producer_id,
            router_rtp_capabilities=self.router_rtp_capabilities,
        )

    def traceparent(self) -> str | None:
        return call_traceparent(self.trace_id, self._opened_in)

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.service.request(method, {"call_id": self.call_id, **params}, self.traceparent())

    # --- lifecycle --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the mediasoup session, the bot's leg and the caller's; on failure release all."""
        try:
            opened = await self._request("session.open", {"trace_id": self.trace_id} if self.trace_id else {})
            self.router_rtp_capabilities = opened.get("rtp_capabilities")
            self.worker_pid = opened.get("worker_pid")
            await self.bot.open()
            await self.caller.open()
        except BaseException as exc:
            failed = self.state is SessionState.FAILED
            await self.close()
            if failed and not isinstance(exc, asyncio.CancelledError):
                raise ServiceUnavailable("the media plane failed while the session was opening") from exc
            raise
        if self.state is not SessionState.OPENING:  # failed (service died) while opening
            raise ServiceUnavailable("media session failed while opening")
        self._state.advance(SessionState.OPEN)
        metrics.SESSIONS_ACTIVE.inc()
        metrics.SESSIONS_OPENED.inc()
        self.bot.start()
        self.detached()  # until call-api opens the events WebSocket
        self.log.info(
            "media session open",
            extra={
                "bot_producer_id": self.bot.producer_id,
                "worker_pid": self.worker_pid,
                "codec": self.codec.name,
            },
        )

    def fail(self, reason: str) -> None:
        """The media plane under this call died: tell call-api at once (media_failure)."""
        if not self._state.is_(SessionState.OPENING, SessionState.OPEN):
            return
        was_open = self.state is SessionState.OPEN
        self._state.advance(SessionState.FAILED)
        self._release_local()
        if was_open:
            metrics.SESSIONS_ACTIVE.dec()
        metrics.MEDIA_FAILURES.labels(reason.split(":")[0][:40]).inc()
        self.log.critical("media session failed", extra={"reason": reason})
        self.outbox.event(MediaFailure(reason=reason))

    async def close(self) -> None:
        """Release everything (idempotent). The mediasoup session closes its router and all under it."""
        if self.state is SessionState.CLOSED:
            return
        was = self.state
        self._state.advance(SessionState.CLOSED)
        if was is SessionState.OPEN:
            metrics.SESSIONS_ACTIVE.dec()
        self._release_local()
        self.outbox.close()
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
        if was is not SessionState.FAILED or self.service.connected:
            try:
                await self._request("session.close", {})
            except MediaError as exc:
                self.log.warning("could not close the mediasoup session", extra={"error": exc.message})
        self.log.info("media session closed", extra={"from_state": was.value})

    def _release_local(self) -> None:
        self.bot.close()
        self.caller.close()

    # --- the events WebSocket ---------------------------------------------------------------------

    def attached(self) -> None:
        self.outbox.attached = True
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None

    def detached(self) -> None:
        """No events WebSocket: close the session unless one comes within the orphan timeout."""
        self.outbox.attached = False
        if self._state.is_(SessionState.OPEN, SessionState.FAILED) and self._orphan_timer is None:
            self._orphan_timer = asyncio.get_running_loop().call_later(
                self.settings.orphan_timeout, self._orphaned
            )

    def _orphaned(self) -> None:
        self._orphan_timer = None
        self.log.warning(
            "closing a media session nobody listens to", extra={"after_s": self.settings.orphan_timeout}
        )
        if self.on_orphaned is not None:
            self.on_orphaned(self)

    # --- signalling -------------------------------------------------------------------------------

    async def signal(self, method_name: str, data: dict[str, Any]) -> dict[str, Any]:
        """A client's signalling method, checked against the whitelist and the call's ledger."""
        if self.state is SessionState.FAILED:
            raise ServiceUnavailable("the media session failed")
        if self.state is not SessionState.OPEN:
            raise errors.not_found(f"no open media session for call {self.call_id}")
        if not self._signalling.allow():
            metrics.SIGNALLING_REFUSED.inc()
            raise errors.MediaError("rate_limited", "too many signalling requests for this call", 429)
        method, params = prepare_call(
            method_name, data, self.ledger, self.owner_of, self.call_id, self.media_policy
        )
        result = await self.service.request(
            method.service_method, service_params(method, params, self.call_id), self.traceparent()
        )
        for change in method.record(self.ledger, params, result):
            await self._apply(change)
        return result

    async def _apply(self, change: Change) -> None:
        if isinstance(change, ProducerAdded):
            await self.caller.tap_producer(change.producer_id)
        elif isinstance(change, ProducerRemoved):
            self.caller.producer_closed(change.producer_id)
        elif isinstance(change, BotConsumed):
            self.bot.consumed(change)
