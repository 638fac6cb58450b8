"""One call's media: its mediasoup session, the bot's audio producer and player, the caller tap,
and the objects the call's client created through signalling (the only ones it may name)."""

import asyncio
import enum
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicebot_protocol.media import (
    BargeInDetected,
    CallerSpeech,
    ControlCommand,
    MediaFailure,
    PlaybackEnd,
    PlaybackFinished,
    PlaybackStart,
    PlaybackStarted,
    PlaybackStop,
    SessionInfo,
)
from voicebot_tracing import traceparent_for

from media_controller import errors, metrics
from media_controller.call_log import CallLogger
from media_controller.caller_tap import CallerTap
from media_controller.errors import MediaError, ServiceUnavailable
from media_controller.outbox import Outbox
from media_controller.playback import Playback, Player
from media_controller.rtp_sender import RtpSender
from media_controller.service import MediasoupService
from media_controller.settings import Settings
from media_controller.signalling import CLIENT_METHODS, Consume, parse_params, service_params, target_id
from media_controller.udp import open_udp
from media_controller.vad import SpeechChange, SpeechDetector

log = logging.getLogger(__name__)

BOT_PAYLOAD_TYPE = 100
BOT_ALIAS = "bot"


def bot_rtp_parameters(ssrc: int) -> dict[str, Any]:
    return {
        "codecs": [
            {
                "mimeType": "audio/opus",
                "payloadType": BOT_PAYLOAD_TYPE,
                "clockRate": 48000,
                "channels": 2,
                "parameters": {"sprop-stereo": 0, "useinbandfec": 1},
            }
        ],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": "voicebot-bot", "reducedSize": True},
    }


class SessionState(enum.Enum):
    OPENING = "opening"
    OPEN = "open"
    FAILED = "failed"  # the media plane under it died; waits for DELETE (or the orphan timeout)
    CLOSED = "closed"


_ALLOWED: dict[SessionState, set[SessionState]] = {
    SessionState.OPENING: {SessionState.OPEN, SessionState.FAILED, SessionState.CLOSED},
    SessionState.OPEN: {SessionState.FAILED, SessionState.CLOSED},
    SessionState.FAILED: {SessionState.CLOSED},
    SessionState.CLOSED: set(),
}


@dataclass
class ClientTransport:
    kind: str  # "plain" | "webrtc"
    remote_port: int = 0  # plain: the port the client connected it to (where it receives RTP)


@dataclass
class ClientConsumer:
    transport_id: str
    producer_id: str
    ssrc: int
    payload_type: int


@dataclass
class PlainLeg:
    """A controller-owned PlainTransport and the UDP socket on our side of it."""

    transport_id: str
    ip: str
    port: int


@dataclass
class Delivery:
    """Where and how the bot's audio reaches the client (for playback_started)."""

    rtp_port: int
    ssrc: int
    payload_type: int


@dataclass
class _Owned:
    transports: dict[str, ClientTransport] = field(default_factory=dict)
    producers: dict[str, str] = field(default_factory=dict)  # producer id → transport id
    consumers: dict[str, ClientConsumer] = field(default_factory=dict)

    def ids(self) -> set[str]:
        return {*self.transports, *self.producers, *self.consumers}


class Session:
    def __init__(
        self,
        call_id: str,
        trace_id: str | None,
        *,
        service: MediasoupService,
        settings: Settings,
        owner_of: Callable[[str], str | None],
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
        self.state = SessionState.OPENING
        self.outbox = Outbox(settings.caller_audio_queue)
        self.bot_producer_id = ""
        self.router_rtp_capabilities: dict[str, Any] | None = None
        self.worker_pid: int | None = None
        self.owned = _Owned()
        self.caller_producer_id: str | None = None
        self.player: Player | None = None
        self.tap: CallerTap | None = None
        self._tap_leg: PlainLeg | None = None
        self._tap_consumer_id: str | None = None
        self._bot_speaking_wanted = False
        self._bot_speaking_changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._orphan_timer: asyncio.TimerHandle | None = None
        self.on_orphaned: Callable[[Session], None] | None = None
        self._unmatched_pcm_logged = False

    def _move(self, new: SessionState) -> None:
        if new not in _ALLOWED[self.state]:
            raise RuntimeError(f"session {self.call_id}: {self.state.value} → {new.value} is not allowed")
        self.state = new

    def info(self) -> SessionInfo:
        return SessionInfo(
            call_id=self.call_id,
            bot_producer_id=self.bot_producer_id,
            router_rtp_capabilities=self.router_rtp_capabilities,
        )

    def traceparent(self) -> str | None:
        current = traceparent_for()
        if current and self.trace_id and current[3:35] == self.trace_id:
            return current
        if self._opened_in and self.trace_id and self._opened_in[3:35] == self.trace_id:
            return self._opened_in
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01" if self.trace_id else current

    async def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.service.request(method, {"call_id": self.call_id, **params}, self.traceparent())

    # --- lifecycle --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the mediasoup session, the bot producer and the tap leg; on failure release all."""
        try:
            opened = await self._request("session.open", {"trace_id": self.trace_id} if self.trace_id else {})
            self.router_rtp_capabilities = opened.get("rtp_capabilities")
            self.worker_pid = opened.get("worker_pid")
            await self._open_bot()
            await self._open_tap_leg()
        except BaseException as exc:
            failed = self.state is SessionState.FAILED
            await self.close()
            if failed and not isinstance(exc, asyncio.CancelledError):
                raise ServiceUnavailable("the media plane failed while the session was opening") from exc
            raise
        if self.state is not SessionState.OPENING:  # failed (service died) while opening
            raise ServiceUnavailable("media session failed while opening")
        self._move(SessionState.OPEN)
        metrics.SESSIONS_ACTIVE.inc()
        metrics.SESSIONS_OPENED.inc()
        self._spawn(self._sync_bot_speaking(), "bot-speaking")
        self.detached()  # until call-api opens the events WebSocket
        self.log.info(
            "media session open",
            extra={"bot_producer_id": self.bot_producer_id, "worker_pid": self.worker_pid},
        )

    async def _open_bot(self) -> None:
        created = await self._request(
            "transport.createPlain", {"comedia": False, "rtcp_mux": True, "listen_ip": self.settings.rtp_ip}
        )
        udp, port = await open_udp(self.settings.rtp_ip, remote=(created["ip"], int(created["port"])))
        sender = RtpSender(udp, BOT_PAYLOAD_TYPE, self.settings.bot_ssrc)
        self.player = Player(
            sender,
            bitrate=self.settings.opus_bitrate,
            on_started=self._playback_started,
            on_finished=self._playback_finished,
        )
        await self._request(
            "transport.connectPlain",
            {"transport_id": created["transport_id"], "ip": self.settings.rtp_ip, "port": port},
        )
        produced = await self._request(
            "produce",
            {
                "transport_id": created["transport_id"],
                "kind": "audio",
                "rtp_parameters": bot_rtp_parameters(self.settings.bot_ssrc),
                "app_data": {"role": "bot"},
            },
        )
        self.bot_producer_id = produced["producer_id"]

    async def _open_tap_leg(self) -> None:
        self.tap = CallerTap(
            SpeechDetector(
                self.settings.vad_aggressiveness,
                self.settings.vad_onset_frames,
                self.settings.vad_hangover_ms,
                self.settings.vad_min_rms,
            ),
            jitter_depth=self.settings.jitter_depth,
            on_frame=self.outbox.audio,
            on_speech=self._caller_speech,
            logger=self.log,
        )
        udp, port = await open_udp(self.settings.rtp_ip, self.tap.on_datagram)
        self.tap.transport = udp
        created = await self._request(
            "transport.createPlain", {"comedia": False, "rtcp_mux": True, "listen_ip": self.settings.rtp_ip}
        )
        await self._request(
            "transport.connectPlain",
            {"transport_id": created["transport_id"], "ip": self.settings.rtp_ip, "port": port},
        )
        self._tap_leg = PlainLeg(created["transport_id"], created["ip"], int(created["port"]))

    def fail(self, reason: str) -> None:
        """The media plane under this call died: tell call-api at once (media_failure)."""
        if self.state not in (SessionState.OPENING, SessionState.OPEN):
            return
        was_open = self.state is SessionState.OPEN
        self._move(SessionState.FAILED)
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
        self._move(SessionState.CLOSED)
        if was is SessionState.OPEN:
            metrics.SESSIONS_ACTIVE.dec()
        self._release_local()
        self.outbox.close()
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        if was is not SessionState.FAILED or self.service.connected:
            try:
                await self._request("session.close", {})
            except MediaError as exc:
                self.log.warning("could not close the mediasoup session", extra={"error": exc.message})
        self.log.info("media session closed", extra={"from_state": was.value})

    def _release_local(self) -> None:
        if self.player is not None:
            player, self.player = self.player, None
            if player.active is not None:
                metrics.PLAYBACKS_ACTIVE.dec()
            player.on_finished = lambda playback: None  # the call is going away: no events, no requests
            player.close()
        if self.tap is not None:
            self.tap.close()
            self.tap = None

    # --- the events WebSocket ---------------------------------------------------------------------

    def attached(self) -> None:
        self.outbox.attached = True
        if self._orphan_timer is not None:
            self._orphan_timer.cancel()
            self._orphan_timer = None

    def detached(self) -> None:
        """No events WebSocket: close the session unless one comes within the orphan timeout."""
        self.outbox.attached = False
        if self.state in (SessionState.OPEN, SessionState.FAILED) and self._orphan_timer is None:
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

    def command(self, command: ControlCommand) -> None:
        player = self.player
        if player is None:
            self.log.warning("playback command on a session without media", extra={"command": command.type})
            return
        if isinstance(command, PlaybackStart):
            player.start(command.stream_id, command.sample_rate)
            self._unmatched_pcm_logged = False
            self.log.info(
                "playback opened", extra={"stream_id": command.stream_id, "sample_rate": command.sample_rate}
            )
        elif isinstance(command, PlaybackEnd):
            if not player.end(command.stream_id):
                self.log.warning(
                    "playback_end for a stream that is not open", extra={"stream_id": command.stream_id}
                )
        elif isinstance(command, PlaybackStop):
            stopped = player.stop(command.stream_id)
            self.log.info(
                "playback stop",
                extra={"stream_id": command.stream_id, "stopped": stopped.stream_id if stopped else None},
            )

    def pcm(self, data: bytes) -> None:
        player = self.player
        if player is not None and player.feed(data):
            return
        if not self._unmatched_pcm_logged:
            self._unmatched_pcm_logged = True
            self.log.warning("dropping PCM: no open playback stream", extra={"bytes": len(data)})

    # --- playback and barge-in --------------------------------------------------------------------

    def delivery(self) -> Delivery:
        for consumer in reversed(self.owned.consumers.values()):
            if consumer.producer_id == self.bot_producer_id:
                transport = self.owned.transports.get(consumer.transport_id)
                return Delivery(
                    transport.remote_port if transport else 0, consumer.ssrc, consumer.payload_type
                )
        return Delivery(0, self.settings.bot_ssrc, BOT_PAYLOAD_TYPE)

    def _playback_started(self, playback: Playback) -> None:
        metrics.PLAYBACKS_ACTIVE.inc()
        delivery = self.delivery()
        self.outbox.event(
            PlaybackStarted(
                stream_id=playback.stream_id,
                rtp_port=delivery.rtp_port,
                ssrc=delivery.ssrc,
                payload_type=delivery.payload_type,
            )
        )
        self._set_bot_speaking(True)

    def _playback_finished(self, playback: Playback) -> None:
        stopped = playback.state.value == "stopped"
        if playback.packets_sent:
            metrics.PLAYBACKS_ACTIVE.dec()
        metrics.PLAYBACKS.labels(str(stopped).lower()).inc()
        self.outbox.event(
            PlaybackFinished(stream_id=playback.stream_id, played_ms=playback.played_ms, stopped=stopped)
        )
        self.log.info(
            "playback finished",
            extra={"stream_id": playback.stream_id, "played_ms": playback.played_ms, "stopped": stopped},
        )
        self._set_bot_speaking(False)

    def _caller_speech(self, change: SpeechChange) -> None:
        self.outbox.event(CallerSpeech(speaking=change.speaking, at_ms=change.at_ms))
        if change.speaking:
            self._barge_in("vad", change.at_ms, change.detected_ms)

    def audio_level_barge_in(self, at_epoch_ms: float | None) -> None:
        """The service's AudioLevelObserver heard the caller while the bot spoke."""
        now_ms = time.monotonic() * 1000
        onset_ms = now_ms
        if at_epoch_ms is not None:
            onset_ms = min(now_ms, now_ms - (time.time() * 1000 - at_epoch_ms))
        self._barge_in("audio_level", onset_ms, now_ms)

    def _barge_in(self, source: str, onset_ms: float, detected_ms: float) -> None:
        playback = self.player.active if self.player else None
        if playback is None or playback.barge_in_reported:
            return
        playback.barge_in_reported = True
        metrics.BARGE_INS.labels(source).inc()
        event = BargeInDetected(onset_ms=onset_ms, detected_ms=detected_ms, source=source)  # type: ignore[arg-type]
        self.outbox.event(event)
        self.log.info(
            "barge-in detected",
            extra={
                "stream_id": playback.stream_id,
                "source": source,
                "latency_ms": round(detected_ms - onset_ms, 1),
            },
        )

    def _set_bot_speaking(self, speaking: bool) -> None:
        self._bot_speaking_wanted = speaking
        self._bot_speaking_changed.set()

    async def _sync_bot_speaking(self) -> None:
        """Tell the service the latest bot-speaking state, in order, one request at a time."""
        told = False
        while True:
            await self._bot_speaking_changed.wait()
            self._bot_speaking_changed.clear()
            wanted = self._bot_speaking_wanted
            if wanted == told:
                continue
            try:
                await self._request("session.setBotSpeaking", {"speaking": wanted})
                told = wanted
            except MediaError as exc:
                self.log.warning("could not tell the service the bot speaks", extra={"error": exc.message})

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"{name}-{self.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- signalling passthrough -------------------------------------------------------------------

    async def signal(self, method_name: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.state is SessionState.FAILED:
            raise ServiceUnavailable("the media session failed")
        if self.state is not SessionState.OPEN:
            raise errors.not_found(f"no open media session for call {self.call_id}")
        method = CLIENT_METHODS.get(method_name)
        if method is None:
            raise errors.forbidden_method(
                f"method {method_name!r} is not allowed (allowed: {', '.join(CLIENT_METHODS)})"
            )
        try:
            params = parse_params(method, data)
        except ValueError as exc:
            raise errors.invalid_request(f"{method_name}: {exc}") from None
        if method.target is not None:
            self._check_owned(method.target, target_id(params, method.target))
        if isinstance(params, Consume):
            producer_id = self.bot_producer_id if params.producer_id == BOT_ALIAS else params.producer_id
            if producer_id != self.bot_producer_id:
                self._check_owned("producer", producer_id)
            params = params.model_copy(update={"producer_id": producer_id})
        result = await self.service.request(
            method.service_method, service_params(method, params, self.call_id), self.traceparent()
        )
        await self._record(method_name, params, result)
        return result

    def _check_owned(self, kind: str, object_id: str) -> None:
        table: dict[str, Any] = getattr(self.owned, f"{kind}s")
        if object_id in table:
            return
        owner = self.owner_of(object_id)
        if (owner is not None and owner != self.call_id) or object_id in self._internal_ids():
            raise errors.foreign_object(f"{kind} {object_id} does not belong to this call's client")
        raise errors.not_found(f"no {kind} {object_id} in this call")

    def _internal_ids(self) -> set[str]:
        ids = {self.bot_producer_id}
        if self._tap_leg is not None:
            ids.add(self._tap_leg.transport_id)
        if self._tap_consumer_id is not None:
            ids.add(self._tap_consumer_id)
        return ids

    def owns(self, object_id: str) -> bool:
        return object_id in self.owned.ids() or object_id in self._internal_ids()

    async def _record(self, method_name: str, params: Any, result: dict[str, Any]) -> None:
        owned = self.owned
        if method_name in ("createPlainTransport", "createWebRtcTransport"):
            owned.transports[result["transport_id"]] = ClientTransport(
                "plain" if "Plain" in method_name else "webrtc"
            )
        elif method_name == "connectPlainTransport":
            owned.transports[params.transport_id].remote_port = params.port
        elif method_name == "consume":
            rtp = result.get("rtp_parameters") or {}
            encodings = rtp.get("encodings") or [{}]
            codecs = rtp.get("codecs") or [{}]
            owned.consumers[result["consumer_id"]] = ClientConsumer(
                params.transport_id,
                params.producer_id,
                int(encodings[0].get("ssrc", 0)),
                int(codecs[0].get("payloadType", BOT_PAYLOAD_TYPE)),
            )
        elif method_name == "produce":
            owned.producers[result["producer_id"]] = params.transport_id
            await self._tap_caller(result["producer_id"])
        elif method_name == "closeConsumer":
            owned.consumers.pop(params.consumer_id, None)
        elif method_name == "closeProducer":
            self._forget_producer(params.producer_id)
        elif method_name == "closeTransport":
            owned.transports.pop(params.transport_id, None)
            for producer_id, transport_id in list(owned.producers.items()):
                if transport_id == params.transport_id:
                    self._forget_producer(producer_id)
            for consumer_id, consumer in list(owned.consumers.items()):
                if consumer.transport_id == params.transport_id:
                    owned.consumers.pop(consumer_id)

    def _forget_producer(self, producer_id: str) -> None:
        self.owned.producers.pop(producer_id, None)
        for consumer_id, consumer in list(self.owned.consumers.items()):
            if consumer.producer_id == producer_id:
                self.owned.consumers.pop(consumer_id)
        if producer_id == self.caller_producer_id:
            self.caller_producer_id = None
            self._tap_consumer_id = None  # mediasoup closes a consumer with its producer

    async def _tap_caller(self, producer_id: str) -> None:
        """Consume the caller's new audio producer onto the tap leg and watch its audio level."""
        assert self._tap_leg is not None and self.tap is not None
        if self._tap_consumer_id is not None:
            await self._request("close", {"kind": "consumer", "id": self._tap_consumer_id})
            self._tap_consumer_id = None
        try:
            consumed = await self._request(
                "consume", {"transport_id": self._tap_leg.transport_id, "producer_id": producer_id}
            )
        except MediaError:
            self.log.error(
                "cannot tap the caller's audio; closing the producer", extra={"producer_id": producer_id}
            )
            self._forget_producer(producer_id)
            await self._request("close", {"kind": "producer", "id": producer_id})
            raise
        self._tap_consumer_id = consumed["consumer_id"]
        self.caller_producer_id = producer_id
        codec = (consumed.get("rtp_parameters") or {}).get("codecs", [{}])[0]
        self.tap.expect(
            (self._tap_leg.ip, self._tap_leg.port), int(codec.get("payloadType", BOT_PAYLOAD_TYPE))
        )
        try:
            await self._request(
                "audioLevel.observe",
                {"producer_id": producer_id, "threshold": self.settings.audio_level_threshold},
            )
        except MediaError as exc:  # the VAD still detects barge-in; the observer is a second opinion
            self.log.warning("audio level observer not started", extra={"error": exc.message})
        self.log.info(
            "caller audio tapped", extra={"producer_id": producer_id, "consumer_id": self._tap_consumer_id}
        )
