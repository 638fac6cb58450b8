"""G.711 through PyAV: the bot's PCM at any rate → 20 ms 8 kHz payloads, and back to 16 kHz."""

from pathlib import Path

import numpy as np
import pytest
from media_controller.call_codecs import CODECS, codec_of_mime
from media_controller.g711 import G711Decoder, G711Encoder

from tests.support.media import best_correlation, envelope, read_audio, speech_wav


@pytest.mark.parametrize(("codec", "silence_byte"), [("pcm_mulaw", 0xFF), ("pcm_alaw", 0xD5)])
def test_frames_are_160_bytes_of_standard_g711(codec: str, silence_byte: int) -> None:
    encoder = G711Encoder(codec, 8000)  # type: ignore[arg-type]
    payloads = encoder.encode(bytes(320 * 3 + 100)) + encoder.flush()
    assert [len(p) for p in payloads] == [160] * 4  # the tail padded to a whole frame
    assert set(payloads[0]) == {silence_byte}  # G.711's code for 0 (ITU-T G.711 tables)


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw"])
def test_round_trip_keeps_the_speech_envelope(tmp_path: Path, codec: str) -> None:
    speech = read_audio(speech_wav(tmp_path, "Testing the telephone codec."), 22050)
    encoder = G711Encoder(codec, 22050)  # type: ignore[arg-type]
    payloads: list[bytes] = []
    for start in range(0, len(speech), 1234):
        payloads += encoder.encode(speech[start : start + 1234])
    payloads += encoder.flush()
    duration_ms = len(speech) / 2 / 22050 * 1000
    assert abs(len(payloads) * 20 - duration_ms) <= 40
    decoder = G711Decoder(codec, 16000)  # type: ignore[arg-type]
    decoded = b"".join(decoder.decode(p) for p in payloads)
    assert abs(len(decoded) / 32 - len(payloads) * 20) <= 5  # 16 kHz: 32 bytes per ms; no delay
    reference = read_audio(speech_wav(tmp_path, "Testing the telephone codec."), 16000)
    correlation, _lag = best_correlation(envelope(reference), envelope(decoded), max_lag=5)
    assert correlation > 0.9


def test_the_call_codecs_describe_their_rtp() -> None:
    assert CODECS["pcmu"].rtp_codec() == {
        "mimeType": "audio/PCMU",
        "payloadType": 0,
        "clockRate": 8000,
        "parameters": {},
    }
    assert CODECS["pcma"].payload_type == 8 and CODECS["pcma"].frame_samples == 160
    assert CODECS["opus"].frame_samples == 960 and CODECS["opus"].rtp_codec()["channels"] == 2
    assert codec_of_mime("audio/pcmu") is CODECS["pcmu"] and codec_of_mime("audio/G722") is None
    samples = np.frombuffer(CODECS["pcma"].decoder(16000).decode(bytes([0xD5]) * 160), np.int16)
    assert samples.size == 320  # 20 ms at 16 kHz from the first payload on: nothing held back
    # A-law's silence is 8, once the filter is past the stream's start (from 0: one step, ringing by 1)
    assert set(np.abs(samples[64:]).tolist()) == {8} and int(np.abs(samples).max()) <= 9
