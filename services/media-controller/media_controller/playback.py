"""Bot audio playback: PCM in → the call's codec (Opus or G.711) → RTP paced at 20 ms on a monotonic schedule.

One stream plays at a time; a new playback_start preempts the current stream (it finishes with
stopped=true). `stop()` is synchronous, so once it returns no packet of that stream leaves.

The schedule is kept by the process's one pacing clock (`pacing.py`): the player asks to be woken
when its next packet is due and sends it then. PCM is encoded a slice at a time just ahead of the
pacer, through the process's shared encoding (`shared_encoding.py`: audio another call already
played is not encoded again)."""

import enum
import functools
import logging
from collections import deque
from collections.abc import Callable

from voicebot_protocol.states import StateHolder, StateTable

from media_controller.call_codecs import OPUS, AudioEncoder, CodecSpec
from media_controller.opus import DEFAULT_COMPLEXITY
from media_controller.pacing import PacingClock, Wakeup, process_clock
from media_controller.rtp_sender import RtpSender
from media_controller.shared_encoding import SLICE_SECONDS, SharedEncoding, Slice, process_encoding

FRAME_SECONDS = 0.020
_MAX_LATE = 0.100  # further behind schedule than this (loop stall, slow TTS): restart the schedule

log = logging.getLogger(__name__)


class PlaybackState(enum.Enum):
    WAITING = "waiting"  # opened, no packet sent yet
    PLAYING = "playing"
    FINISHED = "finished"
    STOPPED = "stopped"


_DONE = frozenset({PlaybackState.FINISHED, PlaybackState.STOPPED})

PLAYBACK_STATES = StateTable(
    "playback",
    {
        PlaybackState.WAITING: {PlaybackState.PLAYING, PlaybackState.FINISHED, PlaybackState.STOPPED},
        PlaybackState.PLAYING: {PlaybackState.FINISHED, PlaybackState.STOPPED},
        PlaybackState.FINISHED: set(),
        PlaybackState.STOPPED: set(),
    },
)


class Playback:
    def __init__(
        self,
        stream_id: str,
        sample_rate: int,
        chain: Slice,
        make_encoder: Callable[[], AudioEncoder],
        *,
        interruptible: bool = False,
    ) -> None:
        self.stream_id = stream_id
        self.sample_rate = sample_rate
        self.interruptible = interruptible  # the controller stops it itself on barge-in
        self._state = StateHolder(PLAYBACK_STATES, PlaybackState.WAITING)
        # Kept with the state (not derived on each read): the pacer asks for every packet.
        self.done = False  # finished or stopped
        self.playing = False  # its audio is being sent
        self.chain = chain  # the last slice encoded (shared_encoding)
        self.make_encoder = make_encoder  # for a slice nobody encoded yet
        self.played: list[Slice] = []  # every slice taken, given back when the stream closes
        self.slice_bytes = int(sample_rate * SLICE_SECONDS) * 2
        self.frame_bytes = int(sample_rate * FRAME_SECONDS) * 2
        self.packets: deque[bytes] = deque()
        self.pcm = bytearray()  # received, not yet encoded
        self.sent_pcm: deque[bytes] = deque()  # encoded, not yet sent: 20 ms frames, for on_sent
        self.unframed = bytearray()  # encoded PCM short of a whole frame
        self.flushed = False
        self.input_ended = False
        self.packets_sent = 0
        self.barge_in_reported = False
        self.due: float | None = None  # the clock's time the next packet is due
        self.resume = True  # the next packet follows a pause: marker bit, timestamp jump

    @property
    def state(self) -> PlaybackState:
        return self._state.state

    def move(self, new: PlaybackState) -> None:
        self._state.advance(new)
        self.done = new in _DONE
        self.playing = new is PlaybackState.PLAYING

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
        complexity: int = DEFAULT_COMPLEXITY,
        clock: PacingClock | None = None,
        encoding: SharedEncoding | None = None,
        on_sent: SentCallback | None = None,
    ) -> None:
        self.sender = sender
        self.on_sent = on_sent  # the barge-in detector's echo guard: what the caller is hearing
        self.bitrate = bitrate
        self.codec = codec
        self.complexity = complexity
        self.on_started = on_started
        self.on_finished = on_finished
        self.current: Playback | None = None
        self._clock = clock
        self._encoding = encoding or process_encoding()
        self._wakeup: Wakeup | None = None

    @property
    def clock(self) -> PacingClock:
        if self._clock is None:
            self._clock = process_clock()
        return self._clock

    @property
    def active(self) -> Playback | None:
        """The stream whose audio is being sent (None between streams or before the first packet)."""
        current = self.current
        return current if current is not None and current.playing else None

    def start(self, stream_id: str, sample_rate: int, *, interruptible: bool = False) -> Playback:
        if self.current is not None and not self.current.done:
            self.stop(None)
        parameters = f"{self.codec.name}/{sample_rate}/{self.bitrate}/{self.complexity}"
        chain = self._encoding.start(parameters)
        make_encoder = functools.partial(self.codec.encoder, sample_rate, self.bitrate, self.complexity)
        playback = Playback(stream_id, sample_rate, chain, make_encoder, interruptible=interruptible)
        self.current = playback
        return playback

    def feed(self, pcm: bytes) -> bool:
        """PCM for the open stream; False if there is none accepting input (the data is dropped)."""
        playback = self.current
        if playback is None or playback.done or playback.input_ended:
            return False
        playback.pcm += pcm
        self._wake(playback)
        return True

    def end(self, stream_id: str) -> bool:
        playback = self.current
        if playback is None or playback.stream_id != stream_id or playback.done or playback.input_ended:
            return False
        playback.input_ended = True
        self._wake(playback)
        return True

    def stop(self, stream_id: str | None) -> Playback | None:
        """Stop the current stream (if it is `stream_id`, or any when None) at once."""
        playback = self.current
        if playback is None or playback.done or (stream_id is not None and playback.stream_id != stream_id):
            return None
        playback.move(PlaybackState.STOPPED)
        self._release(playback)
        self.on_finished(playback)
        return playback

    def close(self) -> None:
        self.stop(None)
        self.sender.close()

    # --- the pacing clock's side ----------------------------------------------------------------

    def _wake(self, playback: Playback) -> None:
        """New input for a stream the clock is not waking (it ran dry, or has not begun)."""
        if self._wakeup is None:
            clock = self.clock
            at = clock.time() if playback.due is None else playback.due
            self._wakeup = clock.schedule(at, functools.partial(self._due, playback))

    def _due(self, playback: Playback, now: float) -> float | None:
        """The clock's call when `playback`'s next packet is due: send it; when the next one is due.
        (One function, its locals bound once: the clock calls it for every packet of every stream.)"""
        try:
            if playback.done or playback is not self.current:
                return None  # released already (its wake-up was cancelled): nothing to send
            packets = playback.packets
            if not packets:
                self._encode_ahead(playback, starving=True)
                now = self.clock.time()  # encoding takes time (a new encoder: milliseconds)
                if not packets:
                    self._wakeup = None  # until more PCM, or the end
                    if playback.input_ended:
                        playback.move(PlaybackState.FINISHED)
                        self._release(playback)
                        self.on_finished(playback)
                    return None
            due = playback.due
            if due is None or now - due > _MAX_LATE:
                if due is not None:
                    playback.resume = True
                due = now
            self.sender.send(packets.popleft(), resume=playback.resume)
            on_sent, sent_pcm = self.on_sent, playback.sent_pcm
            if on_sent is not None and sent_pcm:
                on_sent(sent_pcm.popleft(), playback.sample_rate)
            playback.resume = False
            playback.packets_sent += 1
            playback.due = due = due + FRAME_SECONDS
            if playback.packets_sent == 1:  # its first packet (so it was waiting): it plays now
                playback.move(PlaybackState.PLAYING)
                self.on_started(playback)
            if not packets:
                self._encode_ahead(playback, starving=False)
            return due
        except Exception:
            log.exception("playback failed", extra={"stream_id": playback.stream_id})
            if not playback.done:
                playback.move(PlaybackState.FINISHED)
                self._release(playback)
                self.on_finished(playback)
            return None

    def _encode_ahead(self, playback: Playback, *, starving: bool) -> None:
        """Encode the next slice of received PCM, a few frames ahead of the pacer: encoding lazily
        keeps a long reply's first packet from waiting for the whole reply to be encoded. Slices are
        whole SLICE_SECONDS from the stream's start (so equal audio makes equal slices, shared),
        except the last one, or when the pacer would otherwise have nothing to send."""
        size = playback.slice_bytes
        while not playback.packets:
            final = playback.input_ended and len(playback.pcm) <= size
            if final and playback.flushed:
                return
            if len(playback.pcm) < size and not final and not (starving and playback.pcm):
                return
            chunk = bytes(playback.pcm[:size])
            del playback.pcm[:size]
            if self.on_sent is not None:
                _keep_frames(playback, chunk)
            playback.chain = self._encoding.next(
                playback.chain, chunk, playback.make_encoder, self, final=final
            )
            playback.played.append(playback.chain)
            playback.packets.extend(playback.chain.packets)
            playback.flushed = final

    def _release(self, playback: Playback) -> None:
        playback.packets.clear()
        playback.pcm.clear()
        playback.sent_pcm.clear()
        playback.unframed.clear()
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        played, playback.played = playback.played, []
        self._encoding.leave(played, self)


def _keep_frames(playback: Playback, chunk: bytes) -> None:
    """The PCM of each packet to come, in whole 20 ms frames (chunks arrive in any size), so that
    `on_sent` can tell the barge-in detector what the caller is hearing as each packet leaves."""
    frame = playback.frame_bytes
    if not playback.unframed and len(chunk) % frame == 0:  # the usual slice: whole frames, cut as is
        playback.sent_pcm.extend([chunk[at : at + frame] for at in range(0, len(chunk), frame)])
        return
    playback.unframed += chunk
    whole = len(playback.unframed) // frame * frame
    playback.sent_pcm.extend(bytes(playback.unframed[at : at + frame]) for at in range(0, whole, frame))
    del playback.unframed[:whole]
