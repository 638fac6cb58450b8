"""The barge-in detector the corpus figures chose (docs/turn-taking.md): webrtcvad onset over an
energy floor, confirmed by Silero VAD, with the echo guard. Pure and synchronous: the caller leg
calls it per 20 ms caller frame and the bot leg tells it every frame it sent to the caller.

    detector = BargeInDetector()
    detector.bot_sent(pcm, at_ms, rate)       # each PCM frame the media plane sends the caller
    onset = detector.push(caller_frame, now_ms)  # each decoded caller frame as it arrives
    if onset: stop the bot (onset.at_ms: when the caller started; onset.detected_ms: now)

The caller leg already runs the floor and webrtcvad on every frame for turn segmentation
(media_controller.vad) and passes that answer as `voiced=`, so a frame costs one call here with no
numpy work unless it is voiced.

A frame is voiced when webrtcvad says so, its RMS reaches the floor, and it is not the bot's own echo.
`onset_frames` voiced frames in a row start a candidate; it becomes an onset once Silero has scored
speech (≥ `silero_threshold`) in a chunk since the run began. After an onset the detector re-arms only
after `rearm_ms` without a voiced frame, so one utterance stops the bot once."""

from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

from media_controller.echo_guard import (
    CALLER_WINDOW_MS,
    ECHO_THRESHOLD,
    MAX_DELAY_MS,
    MIN_DELAY_MS,
    RATE,
    SETTLE_THRESHOLD,
    EchoMatch,
    SentFrame,
    echo_match,
    settled_delay,
)
from media_controller.frame_clock import FrameClock
from media_controller.silero_vad import SileroStream

FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000


@dataclass(frozen=True)
class BargeInSettings:
    aggressiveness: int = 2  # webrtcvad mode, as the media-controller's today
    onset_frames: int = 4  # consecutive voiced 20 ms frames
    min_rms: float = 300.0  # ≈ −41 dBFS: quieter frames are never speech
    silero_threshold: float | None = 0.4  # None: no Silero confirmation (0.2 let a cough through)
    echo_guard: bool = True
    echo_threshold: float = ECHO_THRESHOLD
    echo_min_delay_ms: float = MIN_DELAY_MS
    echo_max_delay_ms: float = MAX_DELAY_MS
    echo_window_ms: float = CALLER_WINDOW_MS
    echo_frame_threshold: float = 0.9  # the last 20 ms frame alone, when the window matched nothing
    # Experimental, off: a frame the echo matches still counts as the caller when its level is this
    # many times the line's echo level (learned from confident matches once the delay settled).
    double_talk_ratio: float | None = None
    # Silero hears only the frames that passed the other tests (it costs ~1 ms CPU a 32 ms chunk,
    # webrtcvad ~20 µs a frame), and starts afresh after this long without one.
    silero_gated: bool = True
    silero_reset_ms: float = 300.0
    rearm_ms: float = 400.0


@dataclass(frozen=True, slots=True)
class Onset:
    at_ms: float  # arrival of the run's first voiced frame (as media_controller.vad reports it)
    detected_ms: float  # arrival of the frame that decided


def frame_rms(samples: np.ndarray) -> float:
    as_float = samples.astype(np.float64)
    return float(np.sqrt(as_float @ as_float / len(as_float))) if len(as_float) else 0.0


class BargeInDetector:
    def __init__(self, settings: BargeInSettings | None = None) -> None:
        self.settings = settings or BargeInSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._silero = SileroStream() if self.settings.silero_threshold is not None else None
        self._sent: deque[SentFrame] = deque(maxlen=int(self.settings.echo_max_delay_ms // FRAME_MS) + 3)
        self._heard: deque[bytes] = deque(maxlen=max(1, round(self.settings.echo_window_ms / FRAME_MS)))
        self._run = 0
        self._run_start_ms = 0.0
        self._run_best_probability = 0.0
        self._armed = True
        self._last_voiced_ms = -np.inf
        self._echo_delays: deque[float] = deque(maxlen=10)  # of the recent confident matches
        self.echo_delay_ms: float | None = None  # the line's, once settled
        self._echo_gains: deque[float] = deque(maxlen=25)  # caller / bot level of confident matches
        self.echo_frames = 0  # voiced frames the echo guard took as the bot's own audio
        # Both streams are contiguous audio: the echo guard places them by steady frame times.
        self._bot_clock = FrameClock()
        self._caller_clock = FrameClock()

    def bot_sent(self, frame: bytes, at_ms: float, rate: int = RATE) -> None:
        """`frame`: s16le PCM at `rate` the media plane sent towards the caller at `at_ms`."""
        self._sent.append(SentFrame(self._bot_clock.at(at_ms), pcm=frame, rate=rate))

    def _bot_recently_sent(self, now_ms: float) -> bool:
        return (
            bool(self._sent) and now_ms - self._sent[-1].at_ms <= self.settings.echo_max_delay_ms + FRAME_MS
        )

    def _is_bot_echo(self, now_ms: float) -> bool:
        if not (self.settings.echo_guard and self._bot_recently_sent(now_ms)):
            return False
        heard = np.frombuffer(b"".join(self._heard), dtype=np.int16)
        match = self._match(heard, now_ms, self.echo_delay_ms)
        if match.correlation < self.settings.echo_threshold and self.echo_delay_ms is not None:
            # The line's delay can move (a gateway's jitter buffer adapts): search it all again.
            match = self._match(heard, now_ms, None)
        if match.correlation < self.settings.echo_threshold:
            # A window across a jump of the line's delay matches no single delay: the last frame
            # alone may, but one frame of unrelated speech matches by chance at 0.6-0.7, so it
            # must match much better.
            frame = self._match(heard[-FRAME_SAMPLES:], now_ms, None)
            if frame.correlation >= self.settings.echo_frame_threshold:
                return True
        if match.correlation >= SETTLE_THRESHOLD:
            self._echo_delays.append(match.delay_ms)
            self.echo_delay_ms = settled_delay(self._echo_delays) or self.echo_delay_ms
            if self.echo_delay_ms is not None:
                self._echo_gains.append(match.level_ratio)
        if match.correlation < self.settings.echo_threshold:
            return False
        ratio = self.settings.double_talk_ratio
        if ratio is not None and len(self._echo_gains) >= 5:
            # Louder than the line's echo of that bot audio can be: the caller is talking over it.
            return match.level_ratio < ratio * float(np.median(self._echo_gains))
        return True

    def _match(self, heard: np.ndarray, now_ms: float, around_delay_ms: float | None) -> EchoMatch:
        return echo_match(
            self._sent,
            heard,
            now_ms,
            self.settings.echo_min_delay_ms,
            self.settings.echo_max_delay_ms,
            around_delay_ms=around_delay_ms,
        )

    def _voiced(self, frame: bytes, now_ms: float, voiced: bool | None) -> bool:
        if voiced is None:
            samples = np.frombuffer(frame, dtype=np.int16)
            voiced = frame_rms(samples) >= self.settings.min_rms and self._vad.is_speech(frame, RATE)
        if not voiced:
            return False
        if self._is_bot_echo(now_ms):
            self.echo_frames += 1
            return False
        return True

    def _speech_probability(self, frame: bytes, voiced: bool, now_ms: float) -> float:
        if self._silero is None:
            return 1.0
        if not self.settings.silero_gated:
            return self._silero.push(np.frombuffer(frame, dtype=np.int16))
        if not voiced:
            return 0.0
        if now_ms - self._last_voiced_ms > self.settings.silero_reset_ms:
            self._silero.reset()
        return self._silero.push(np.frombuffer(frame, dtype=np.int16))

    def push(self, caller_frame: bytes, now_ms: float, voiced: bool | None = None) -> Onset | None:
        """`caller_frame`: 20 ms of 16 kHz s16le PCM, arrived at `now_ms` (monotonic ms). `voiced`:
        the floor-and-webrtcvad answer for this frame when the caller already has it (None: ask)."""
        self._heard.append(caller_frame)
        voiced = self._voiced(caller_frame, self._caller_clock.at(now_ms), voiced)
        probability = self._speech_probability(caller_frame, voiced, now_ms)
        if not voiced:
            self._run = 0
            if not self._armed and now_ms - self._last_voiced_ms >= self.settings.rearm_ms:
                self._armed = True
            return None
        if self._run == 0:
            self._run_start_ms = now_ms
            self._run_best_probability = 0.0
        self._run += 1
        self._last_voiced_ms = now_ms
        self._run_best_probability = max(self._run_best_probability, probability)
        if not self._armed or self._run < self.settings.onset_frames:
            return None
        threshold = self.settings.silero_threshold
        if threshold is not None and self._run_best_probability < threshold:
            return None
        self._armed = False
        return Onset(self._run_start_ms, now_ms)
