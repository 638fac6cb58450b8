"""The bot's side of a call: its audio producer (fed from a controller-owned plain transport), the
player that paces call-api's PCM into it, the playback events, and telling the service whether the
bot speaks (its AudioLevelObserver reports barge-in only then)."""

import asyncio
from dataclasses import dataclass
from typing import Any

from voicebot_protocol.media import (
    BotLegReady,
    ControlCommand,
    PlaybackEnd,
    PlaybackFinished,
    PlaybackStart,
    PlaybackStarted,
    PlaybackStop,
)

from media_controller import metrics, shared_encoding
from media_controller.call_codecs import OPUS, CodecSpec
from media_controller.errors import MediaError
from media_controller.ledger import BotConsumed, ClientLedger
from media_controller.legs import CallMedia, open_plain_leg
from media_controller.playback import Playback, PlaybackState, Player, SentCallback
from media_controller.rtp_sender import RtpSender

BOT_PAYLOAD_TYPE = OPUS.payload_type  # of an Opus call


def bot_rtp_parameters(ssrc: int, codec: CodecSpec = OPUS) -> dict[str, Any]:
    return {
        "codecs": [codec.rtp_codec()],
        "encodings": [{"ssrc": ssrc}],
        "rtcp": {"cname": "voicebot-bot", "reducedSize": True},
    }


@dataclass(frozen=True)
class Delivery:
    """Where and how the bot's audio reaches the client (for playback_started)."""

    rtp_port: int
    ssrc: int
    payload_type: int


class BotLeg:
    def __init__(self, call: CallMedia, ledger: ClientLedger) -> None:
        self.call = call
        self.ledger = ledger
        self.player: Player | None = None
        self._speaking_wanted = False
        self._speaking_changed = asyncio.Event()
        self._unmatched_pcm_logged = False
        self._speaking_sync: asyncio.Task[None] | None = None
        self._on_audio_sent: SentCallback = lambda pcm, rate: None

    @property
    def on_audio_sent(self) -> SentCallback:
        """Each PCM frame as its packet leaves, with its sample rate (the caller leg's echo guard)."""
        return self._on_audio_sent

    @on_audio_sent.setter
    def on_audio_sent(self, callback: SentCallback) -> None:
        # Handed to the player itself (not called through a lambda of ours): once per packet.
        self._on_audio_sent = callback
        if self.player is not None:
            self.player.on_sent = callback

    @property
    def producer_id(self) -> str:
        return self.ledger.bot_producer_id

    async def open(self) -> None:
        settings, codec = self.call.settings.bot, self.call.codec
        leg = await open_plain_leg(self.call)
        self.ledger.internal.add(leg.transport_id)
        shared_encoding.configure(settings.shared_encoding_slices)
        self.player = Player(
            RtpSender(leg.udp, codec.payload_type, settings.ssrc, codec.clock_rate),
            bitrate=settings.opus_bitrate,
            complexity=settings.opus_complexity,
            on_started=self._started,
            on_finished=self._finished,
            codec=codec,
            on_sent=self._on_audio_sent,
        )
        produced = await self.call.request(
            "produce",
            {
                "transport_id": leg.transport_id,
                "kind": "audio",
                "rtp_parameters": bot_rtp_parameters(settings.ssrc, codec),
                "app_data": {"role": "bot"},
            },
        )
        self.ledger.bot_producer_id = str(produced["producer_id"])

    def start(self) -> None:
        """The session is open: from now on the service hears whether the bot speaks."""
        self._speaking_sync = asyncio.create_task(
            self._sync_speaking(), name=f"bot-speaking-{self.call.call_id}"
        )

    def close(self) -> None:
        """Stop at once, quietly: the call is going away (no events, no requests)."""
        if self._speaking_sync is not None:
            self._speaking_sync.cancel()
        if self.player is not None:
            player, self.player = self.player, None
            if player.active is not None:
                metrics.PLAYBACKS_ACTIVE.dec()
            player.on_finished = lambda playback: None
            player.close()

    # --- call-api's commands and PCM ------------------------------------------------------------

    def command(self, command: ControlCommand) -> None:
        player, log = self.player, self.call.log
        if player is None:
            log.warning("playback command on a session without media", extra={"command": command.type})
            return
        if isinstance(command, PlaybackStart):
            player.start(command.stream_id, command.sample_rate, interruptible=command.interruptible)
            self._unmatched_pcm_logged = False
            log.info(
                "playback opened",
                extra={
                    "stream_id": command.stream_id,
                    "sample_rate": command.sample_rate,
                    "interruptible": command.interruptible,
                },
            )
        elif isinstance(command, PlaybackEnd):
            if not player.end(command.stream_id):
                log.warning(
                    "playback_end for a stream that is not open", extra={"stream_id": command.stream_id}
                )
        elif isinstance(command, PlaybackStop):
            stopped = player.stop(command.stream_id)
            log.info(
                "playback stop",
                extra={"stream_id": command.stream_id, "stopped": stopped.stream_id if stopped else None},
            )

    def pcm(self, data: bytes) -> None:
        player = self.player
        if player is not None and player.feed(data):
            return
        if not self._unmatched_pcm_logged:
            self._unmatched_pcm_logged = True
            self.call.log.warning("dropping PCM: no open playback stream", extra={"bytes": len(data)})

    # --- what the caller's leg and the ledger tell it -------------------------------------------

    def playing(self) -> Playback | None:
        """The playback whose audio is being sent, if any."""
        return self.player.active if self.player is not None else None

    def interrupt(self, playback: Playback) -> bool:
        """Barge-in during `playback`: stop it here if call-api opened it interruptible (saving the
        playback_stop round trip through call-api); True if it was stopped."""
        if not playback.interruptible or self.player is None:
            return False
        stopped = self.player.stop(playback.stream_id)
        if stopped is not None:
            self.call.log.info("playback stopped on barge-in", extra={"stream_id": playback.stream_id})
        return stopped is not None

    def consumed(self, change: BotConsumed) -> None:
        """The gateway consumes the bot producer: audio played from now on reaches the phone."""
        self.call.outbox.event(BotLegReady(transport_id=change.transport_id, consumer_id=change.consumer_id))
        self.call.log.info(
            "bot leg ready", extra={"transport_id": change.transport_id, "consumer_id": change.consumer_id}
        )

    def delivery(self) -> Delivery:
        latest = self.ledger.bot_delivery()
        if latest is None:
            return Delivery(0, self.call.settings.bot.ssrc, self.call.codec.payload_type)
        consumer, transport = latest
        return Delivery(transport.remote_port if transport else 0, consumer.ssrc, consumer.payload_type)

    # --- playback events ------------------------------------------------------------------------

    def _started(self, playback: Playback) -> None:
        metrics.PLAYBACKS_ACTIVE.inc()
        delivery = self.delivery()
        self.call.outbox.event(
            PlaybackStarted(
                stream_id=playback.stream_id,
                rtp_port=delivery.rtp_port,
                codec=self.call.codec.name,
                ssrc=delivery.ssrc,
                payload_type=delivery.payload_type,
                clock_rate=self.call.codec.clock_rate,
            )
        )
        self._set_speaking(True)

    def _finished(self, playback: Playback) -> None:
        stopped = playback.state is PlaybackState.STOPPED
        if playback.packets_sent:
            metrics.PLAYBACKS_ACTIVE.dec()
        metrics.PLAYBACKS.labels(str(stopped).lower()).inc()
        self.call.outbox.event(
            PlaybackFinished(stream_id=playback.stream_id, played_ms=playback.played_ms, stopped=stopped)
        )
        self.call.log.info(
            "playback finished",
            extra={"stream_id": playback.stream_id, "played_ms": playback.played_ms, "stopped": stopped},
        )
        self._set_speaking(False)

    # --- the service's bot-speaking flag --------------------------------------------------------

    def _set_speaking(self, speaking: bool) -> None:
        self._speaking_wanted = speaking
        self._speaking_changed.set()

    async def _sync_speaking(self) -> None:
        """Tell the service the latest bot-speaking state, in order, one request at a time."""
        told = False
        while True:
            await self._speaking_changed.wait()
            self._speaking_changed.clear()
            wanted = self._speaking_wanted
            if wanted == told:
                continue
            try:
                await self.call.request("session.setBotSpeaking", {"speaking": wanted})
                told = wanted
            except MediaError as exc:
                self.call.log.warning(
                    "could not tell the service the bot speaks", extra={"error": exc.message}
                )
