"""Speech detection on real speech (espeak-ng) and the Opus round trip (PyAV)."""

from pathlib import Path

import numpy as np
from media_controller.opus import OpusDecoder, OpusEncoder
from media_controller.vad import SpeechDetector

from tests.support.media import best_correlation, envelope, read_audio, speech_wav

FRAME = 640


def _frames(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def test_speech_onset_and_end_are_detected_with_hangover(tmp_path: Path) -> None:
    speech = read_audio(speech_wav(tmp_path, "Hello, I would like to speak to someone please."), 16000)
    silence = bytes(16000 * 2)  # 1 s
    detector = SpeechDetector(aggressiveness=2, onset_frames=3, hangover_ms=400)
    changes = []
    for index, frame in enumerate(_frames(silence + speech + silence)):
        change = detector.feed(frame, at_ms=index * 20.0)
        if change:
            changes.append(change)
    assert [c.speaking for c in changes] == [True, False]
    onset, end = changes
    assert 1000 <= onset.at_ms <= 1200  # speech starts after 1 s of silence
    assert onset.detected_ms - onset.at_ms == 40  # the 3rd consecutive voiced frame
    assert end.detected_ms - end.at_ms >= 400  # hangover
    assert end.at_ms <= 1000 + len(speech) / 32 + 40


def test_silence_and_hum_are_not_speech() -> None:
    detector = SpeechDetector(aggressiveness=3, onset_frames=3)
    t = np.arange(16000 * 2) / 16000
    hum = (np.sin(2 * np.pi * 50 * t) * 300).astype(np.int16).tobytes()
    for index, frame in enumerate(_frames(bytes(32000) + hum)):
        assert detector.feed(frame, index * 20.0) is None


def test_opus_round_trip_keeps_the_speech_envelope(tmp_path: Path) -> None:
    speech = read_audio(speech_wav(tmp_path, "Testing the opus encoder and decoder."), 22050)
    encoder = OpusEncoder(22050)
    packets: list[bytes] = []
    for start in range(0, len(speech), 1234):  # odd-sized pieces, as TTS delivers them
        packets += encoder.encode(speech[start : start + 1234])
    packets += encoder.flush()
    assert all(len(p) < 400 for p in packets)
    duration_ms = len(speech) / 2 / 22050 * 1000
    assert abs(len(packets) * 20 - duration_ms) <= 60
    decoder = OpusDecoder(16000)
    decoded = b"".join(decoder.decode(p) for p in packets)
    correlation, _lag = best_correlation(
        envelope(read_audio_bytes(speech, 22050)), envelope(decoded), max_lag=5
    )
    assert correlation > 0.9


def read_audio_bytes(pcm: bytes, rate: int) -> bytes:
    """Resample PCM to 16 kHz (numpy linear interpolation is plenty for an energy envelope)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    positions = np.arange(0, len(samples), rate / 16000)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16).tobytes()


def test_decoder_survives_garbage() -> None:
    decoder = OpusDecoder(16000)
    try:
        decoder.decode(b"\xff\xfe\xfd garbage")
    except ValueError:
        pass  # the tap drops such a packet
    good = OpusEncoder(16000).encode(bytes(640 * 5))
    assert decoder.decode(good[0]) is not None


def test_speech_ends_by_the_clock_when_audio_stops(tmp_path: Path) -> None:
    speech = read_audio(speech_wav(tmp_path, "Hello there."), 16000)
    detector = SpeechDetector(onset_frames=3, hangover_ms=300)
    onset_frame_at = next(
        index * 20.0 for index, frame in enumerate(_frames(speech)) if detector.feed(frame, index * 20.0)
    )  # the audio stops right after speech was detected
    assert detector.speaking
    assert detector.timeout(onset_frame_at + 100) is None
    change = detector.timeout(onset_frame_at + 1000)
    assert change is not None and not change.speaking and not detector.speaking
    assert change.at_ms == onset_frame_at
