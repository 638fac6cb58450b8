"""Silero detectors are the controller's largest per-call memory (≈ 3 MB each): a call takes one
only when its barge-in detector first asks Silero about the caller's voice, and gives it back when
it closes; the pool keeps a few, reset (silero_pool.py, silero_vad.py)."""

import numpy as np
from media_controller.barge_in import BargeInDetector
from media_controller.silero_pool import DetectorPool, process_pool
from media_controller.silero_vad import SileroStream
from voicebot_callsim.audio import speech_pcm

FRAME = 320  # 20 ms at 16 kHz


def speech_frames() -> list[np.ndarray]:
    samples = np.frombuffer(speech_pcm("Wait, stop, I have a question.", 16000), dtype=np.int16)
    return [samples[at : at + FRAME] for at in range(0, len(samples) - FRAME + 1, FRAME)]


def scores(stream: SileroStream, frames: list[np.ndarray]) -> list[float]:
    return [stream.push(frame) for frame in frames]


def test_a_stream_takes_a_detector_only_when_it_first_scores_and_gives_it_back_on_close() -> None:
    pool = DetectorPool(idle_max=2)
    stream = SileroStream(every_frame=True, pool=pool)
    stream.reset()
    assert (pool.made, pool.in_use) == (0, 0)

    scores(stream, speech_frames()[:3])
    assert (pool.made, pool.in_use, pool.idle) == (1, 1, 0)
    stream.close()
    assert (pool.made, pool.in_use, pool.idle) == (1, 0, 1)
    stream.close()  # idempotent
    assert (pool.in_use, pool.idle) == (0, 1)


def test_a_detector_given_back_scores_like_a_new_one() -> None:
    frames = speech_frames()
    fresh = scores(SileroStream(pool=DetectorPool()), frames)
    assert max(fresh) > 0.5  # speech: the state matters

    pool = DetectorPool(idle_max=1)
    first = SileroStream(pool=pool)
    scores(first, frames[: len(frames) // 2])  # leaves its recurrent state mid-speech
    first.close()
    second = SileroStream(pool=pool)
    assert scores(second, frames) == fresh
    assert pool.made == 1


def test_the_pool_keeps_at_most_idle_max_detectors() -> None:
    pool = DetectorPool(idle_max=2)
    streams = [SileroStream(pool=pool) for _ in range(5)]
    for stream in streams:
        scores(stream, speech_frames()[:2])
    assert (pool.made, pool.in_use) == (5, 5)
    for stream in streams:
        stream.close()
    assert (pool.in_use, pool.idle) == (0, 2)


def test_a_barge_in_detector_gives_its_silero_detector_back_when_closed() -> None:
    detector = BargeInDetector()
    pool = process_pool()
    in_use = pool.in_use
    for n, frame in enumerate(speech_frames()):
        detector.push(frame.tobytes(), 20.0 * n, voiced=True)
    assert pool.in_use == in_use + 1
    detector.close()
    assert pool.in_use == in_use
