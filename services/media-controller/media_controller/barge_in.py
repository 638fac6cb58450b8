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
speech (≥ `silero_threshold`) on one of the run's frames (the latest 32 ms at each, and only the
frames near the run's loudest). After an onset the detector re-arms only after `rearm_ms` without a
voiced frame, so one utterance stops the bot once.

The echo search and Silero run only while a run is being decided: the frames of a webrtcvad run are
held until one frame more could make it an onset, then judged in order as on arrival (the deciding
frame then carries only its own work). A click or a
key press (one or two voiced frames) costs neither; nor do they learn from it (Silero's state, the
echo guard's delay)."""

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from media_controller.echo_guard import RATE, EchoGuard, EchoGuardSettings
from media_controller.frame_clock import FrameClock
from media_controller.silero_vad import SileroStream
from media_controller.vad import frame_rms

FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
RUN_SCORES = 50  # frames of a run whose Silero scores are kept


@dataclass(frozen=True)
class BargeInSettings:
    aggressiveness: int = 2  # webrtcvad mode, as the media-controller's today
    onset_frames: int = 4  # consecutive voiced 20 ms frames (with Silero's confirmation)
    min_rms: float = 300.0  # ≈ −41 dBFS: quieter frames are never speech
    silero_threshold: float | None = 0.5  # None: no Silero confirmation
    # Silero's chunk is 32 ms. Aligned chunks leave a frame's audio unheard until the next chunk
    # (+20 ms on a fricative onset); every_frame scores the latest 32 ms at each voiced frame
    # (chunks overlap: 1.6x the model calls while a run is decided).
    silero_every_frame: bool = True
    # Only the run's frames at least this fraction of its loudest frame's RMS count for Silero's
    # confirmation: a knock is one loud frame and a decaying tail Silero may take for a voiced sound.
    silero_min_relative_rms: float = 0.5
    # Silero hears only the frames that passed the other tests (it costs ~1 ms CPU a 32 ms chunk,
    # webrtcvad ~20 µs a frame), and starts afresh with each run and after this long without one.
    silero_gated: bool = True
    silero_reset_ms: float = 300.0
    echo_guard: bool = True
    echo: EchoGuardSettings = field(default_factory=EchoGuardSettings)
    rearm_ms: float = 400.0


@dataclass(frozen=True, slots=True)
class Onset:
    at_ms: float  # arrival of the run's first voiced frame (as media_controller.vad reports it)
    detected_ms: float  # arrival of the frame that decided


@dataclass(frozen=True, slots=True)
class _Heard:
    """A voiced caller frame waiting to be judged, with what judging it needs."""

    frame: bytes
    rms: float
    now_ms: float  # arrival
    steady_ms: float  # its steady time (the echo guard's placement)
    window: tuple[bytes, ...]  # the echo window's frames, ending with this one
    probability: float  # Silero's, when it hears every frame (ungated); else 0 until judged


class BargeInDetector:
    def __init__(self, settings: BargeInSettings | None = None) -> None:
        self.settings = settings or BargeInSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._silero = (
            SileroStream(self.settings.silero_every_frame)
            if self.settings.silero_threshold is not None
            else None
        )
        self._echo = (
            EchoGuard(self.settings.echo, FRAME_MS, self.settings.onset_frames)
            if self.settings.echo_guard
            else None
        )
        self._heard: deque[bytes] = deque(maxlen=max(1, round(self.settings.echo.window_ms / FRAME_MS)))
        self._undecided: list[_Heard] = []  # the current webrtcvad run's frames, not judged yet
        self._run = 0
        self._run_start_ms = 0.0
        # (RMS, Silero's probability) of the run's frames, the last second of it (a noise webrtcvad
        # calls voice may go on for minutes).
        self._run_scores: deque[tuple[float, float]] = deque(maxlen=RUN_SCORES)
        self._armed = True
        self._last_voiced_ms = -np.inf
        self.echo_frames = 0  # voiced frames the echo guard took as the bot's own audio
        self._caller_clock = FrameClock()

    def close(self) -> None:
        """The call is over: Silero's detector goes back to the process's pool."""
        if self._silero is not None:
            self._silero.close()

    @property
    def echo_delay_ms(self) -> float | None:
        """The line's echo delay, once settled."""
        return self._echo.delay_ms if self._echo is not None else None

    def bot_sent(self, frame: bytes, at_ms: float, rate: int = RATE) -> None:
        """`frame`: s16le PCM at `rate` the media plane sent towards the caller at `at_ms`."""
        if self._echo is not None:
            self._echo.bot_sent(frame, at_ms, rate)

    def push(
        self, caller_frame: bytes, now_ms: float, voiced: bool | None = None, rms: float | None = None
    ) -> Onset | None:
        """`caller_frame`: 20 ms of 16 kHz s16le PCM, arrived at `now_ms` (monotonic ms). `voiced`:
        the floor-and-webrtcvad answer for this frame when the caller already has it (None: ask),
        `rms` the frame's RMS that answer was based on (None: computed here when needed)."""
        steady_ms = self._caller_clock.at(now_ms)
        self._heard.append(caller_frame)
        if voiced is None:
            rms = frame_rms(caller_frame)
            voiced = rms >= self.settings.min_rms and self._vad.is_speech(caller_frame, RATE)
        probability = 0.0
        if self._silero is not None and not self.settings.silero_gated:
            probability = self._silero.push(np.frombuffer(caller_frame, dtype=np.int16))
        if not voiced:
            self._undecided.clear()
            self._unvoiced(now_ms)
            return None
        if rms is None:
            rms = frame_rms(caller_frame)
        self._undecided.append(_Heard(caller_frame, rms, now_ms, steady_ms, tuple(self._heard), probability))
        # Held while the run could not stop the bot even with the next frame; judged one frame
        # before it could, so the frame that decides carries its own work only.
        if self._armed and self._run + len(self._undecided) < self.settings.onset_frames - 1:
            return None
        onset = None
        for heard in self._undecided:
            onset = self._judge(heard) or onset
        self._undecided.clear()
        return onset

    def _unvoiced(self, now_ms: float) -> None:
        self._run = 0
        if not self._armed and now_ms - self._last_voiced_ms >= self.settings.rearm_ms:
            self._armed = True

    def _judge(self, heard: _Heard) -> Onset | None:
        """A frame webrtcvad and the floor call voice: the echo guard's and Silero's say."""
        if self._echo is not None:
            window = np.frombuffer(b"".join(heard.window), dtype=np.int16)
            if self._echo.is_echo(window, heard.steady_ms, FRAME_SAMPLES):
                self.echo_frames += 1
                self._unvoiced(heard.now_ms)
                return None
        if self._run == 0:
            self._run_start_ms = heard.now_ms
            self._run_scores.clear()
            if self._silero is not None and self.settings.silero_gated:
                # Silero's state starts with the run, like its scores: a run's discounted frames (a
                # knock's tail, which it may hear as voice) must not carry into the next run's.
                self._silero.reset()
        threshold = self.settings.silero_threshold
        # A frame that completes an armed run the run's earlier frames already confirm is an onset
        # whatever Silero says of it: not scoring it takes the model call off the deciding frame.
        confirmed = (
            threshold is not None
            and self._armed
            and self._run + 1 >= self.settings.onset_frames
            and self._run_best_probability(heard.rms) >= threshold
        )
        probability = 0.0 if confirmed else self._speech_probability(heard)
        self._run += 1
        self._last_voiced_ms = heard.now_ms
        self._run_scores.append((heard.rms, probability))
        if not self._armed or self._run < self.settings.onset_frames:
            return None
        if threshold is not None and self._run_best_probability() < threshold:
            return None
        self._armed = False
        return Onset(self._run_start_ms, heard.now_ms)

    def _run_best_probability(self, next_rms: float = 0.0) -> float:
        """Silero's best score in the run (its last second), over the frames loud enough next to its
        loudest (a knock: a loud frame, a decaying tail Silero may hear as a voiced sound), the
        loudest counting a frame of `next_rms` not scored yet."""
        if not self._run_scores:
            return 0.0
        loudest = max(next_rms, max(rms for rms, _ in self._run_scores))
        floor = self.settings.silero_min_relative_rms * loudest
        return max((p for rms, p in self._run_scores if rms >= floor), default=0.0)

    def _speech_probability(self, heard: _Heard) -> float:
        if self._silero is None:
            return 1.0
        if not self.settings.silero_gated:
            return heard.probability
        if not self._armed:  # nothing to decide until it re-arms
            return 0.0
        if heard.now_ms - self._last_voiced_ms > self.settings.silero_reset_ms:
            self._silero.reset()
        return self._silero.push(np.frombuffer(heard.frame, dtype=np.int16))
