"""Bot audio playback: PCM in → the call's codec (Opus or G.711) → RTP paced at 20 ms on a monotonic schedule.

One stream plays at a time; a new playback_start preempts the current stream (it finishes with
stopped=true). `stop()` is synchronous, so once it returns no packet of that stream leaves."""

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable

from voicebot_protocol.states import StateHolder, StateTable

from media_controller.call_codecs import OPUS, AudioEncoder, CodecSpec
from media_controller.rtp_sender import RtpSender

FRAME_SECONDS = 0.020
_MAX_LATE = 0.100  # further behind schedule than this (loop stall, slow TTS): restart the schedule

log = logging.getLogger(__name__)


class PlaybackState(enum.Enum):
    WAITING = "waiting"  # opened, no packet sent yet
    PLAYING = "playing"
    FINISHED = "finished"
    STOPPED = "stopped"


PLAYBACK_STATES = StateTable(
    "playback",
    {
        PlaybackState.WAITING: {PlaybackState.PLAYING, PlaybackState.FINISHED, PlaybackState.STOPPED},
        PlaybackState.PLAYING: {PlaybackState.FINISHED, PlaybackState.STOPPED},
        PlaybackState.FINISHED: set(),
        PlaybackState.STOPPED: set(),
    },
)


ENCODE_AHEAD_SECONDS = 0.06


class Playback:
    def __init__(
        self, stream_id: str, sample_rate: int, encoder: AudioEncoder, *, interruptible: bool = False
    ) -> None:
        self.stream_id = stream_id
        self.sample_rate = sample_rate
        self.interruptible = interruptible  # the controller stops it itself on barge-in
        self._state = StateHolder(PLAYBACK_STATES, PlaybackState.WAITING)
        self.encoder = encoder
        self.packets: deque[bytes] = deque()
        self.pcm = bytearray()  # received, not yet encoded
        self.sent_pcm: deque[bytes] = deque()  # encoded, not yet sent: 20 ms frames, for on_sent
        self.unframed = bytearray()  # encoded PCM short of a whole frame
        self.flushed = False
        self.input_ended = False
        self.packets_sent = 0
        self.barge_in_reported = False
        self.more = asyncio.Event()  # new packets queued, or input ended

    @property
    def state(self) -> PlaybackState:
        return self._state.state

    def move(self, new: PlaybackState) -> None:
        self._state.advance(new)

    @property
    def done(self) -> bool:
        return self.state in (PlaybackState.FINISHED, PlaybackState.STOPPED)

    @property
    def played_ms(self) -> int:
        return round(self.packets_sent * FRAME_SECONDS * 1000)


PlaybackCallback = Callable[[Playback], None]
SentCallback = Callable[[bytes, int], None]  # (the PCM of the packet just sent, its sample rate)


class Player:
    """Plays streams into the bot producer. Callbacks: first packet sent; stream finished or stopped."""

    def __init__(
        self,
        sender: RtpSender,
        *,
        bitrate: int,
        on_started: PlaybackCallback,
        on_finished: PlaybackCallback,
        codec: CodecSpec = OPUS,
        on_sent: SentCallback | None = None,
    ) -> None:
        self.sender = sender
        self.on_sent = on_sent  # the barge-in detector's echo guard: what the caller is hearing
        self.bitrate = bitrate
        self.codec = codec
        self.on_started = on_started
        self.on_finished = on_finished
        self.current: Playback | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> Playback | None:
        """The stream whose audio is being sent (None between streams or before the first packet)."""
        current = self.current
        return current if current is not None and current.state is PlaybackState.PLAYING else None

    def start(self, stream_id: str, sample_rate: int, *, interruptible: bool = False) -> Playback:
        if self.current is not None and not self.current.done:
            self.stop(None)
        encoder = self.codec.encoder(sample_rate, self.bitrate)
        playback = Playback(stream_id, sample_rate, encoder, interruptible=interruptible)
        self.current = playback
        self._task = asyncio.create_task(self._pace(playback), name=f"playback-{stream_id}")
        return playback

    def feed(self, pcm: bytes) -> bool:
        """PCM for the open stream; False if there is none accepting input (the data is dropped)."""
        playback = self.current
        if playback is None or playback.done or playback.input_ended:
            return False
        playback.pcm += pcm
        playback.more.set()
        return True

    def end(self, stream_id: str) -> bool:
        playback = self.current
        if playback is None or playback.stream_id != stream_id or playback.done or playback.input_ended:
            return False
        playback.input_ended = True
        playback.more.set()
        return True

    def stop(self, stream_id: str | None) -> Playback | None:
        """Stop the current stream (if it is `stream_id`, or any when None) at once."""
        playback = self.current
        if playback is None or playback.done or (stream_id is not None and playback.stream_id != stream_id):
            return None
        playback.move(PlaybackState.STOPPED)
        playback.packets.clear()
        playback.pcm.clear()
        playback.sent_pcm.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.on_finished(playback)
        return playback

    def close(self) -> None:
        self.stop(None)
        self.sender.close()

    async def _pace(self, playback: Playback) -> None:
        due: float | None = None  # monotonic time the next packet is due
        resume = True
        try:
            while True:
                if not playback.packets:
                    if playback.pcm or (playback.input_ended and not playback.flushed):
                        _encode_ahead(playback)
                        continue
                    if playback.input_ended:
                        break
                    playback.more.clear()
                    await playback.more.wait()
                    continue
                now = time.monotonic()
                if due is None or now - due > _MAX_LATE:
                    if due is not None:
                        resume = True
                    due = now
                elif due > now:
                    await asyncio.sleep(due - now)
                    continue  # re-check: the stream may have been stopped or preempted meanwhile
                if playback.done:
                    return
                self.sender.send(playback.packets.popleft(), resume=resume)
                if self.on_sent is not None and playback.sent_pcm:
                    self.on_sent(playback.sent_pcm.popleft(), playback.sample_rate)
                resume = False
                playback.packets_sent += 1
                due += FRAME_SECONDS
                if playback.state is PlaybackState.WAITING:
                    playback.move(PlaybackState.PLAYING)
                    self.on_started(playback)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("playback failed", extra={"stream_id": playback.stream_id})
        if not playback.done:
            playback.move(PlaybackState.FINISHED)
            self.on_finished(playback)


def _encode_ahead(playback: Playback) -> None:
    """Encode the next slice of received PCM, a few frames ahead of the pacer: encoding lazily
    keeps a long reply's first packet from waiting for the whole reply to be encoded."""
    step = int(playback.sample_rate * ENCODE_AHEAD_SECONDS) * 2
    chunk = bytes(playback.pcm[:step])
    del playback.pcm[:step]
    # Whole 20 ms frames, one per packet: the PCM arrives in chunks of any size.
    frame = int(playback.sample_rate * FRAME_SECONDS) * 2
    playback.unframed += chunk
    whole = len(playback.unframed) // frame * frame
    playback.sent_pcm.extend(bytes(playback.unframed[at : at + frame]) for at in range(0, whole, frame))
    del playback.unframed[:whole]
    playback.packets.extend(playback.encoder.encode(chunk))
    if not playback.pcm and playback.input_ended and not playback.flushed:
        playback.packets.extend(playback.encoder.flush())
        playback.flushed = True
