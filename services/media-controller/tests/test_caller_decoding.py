"""The caller's audio decoded to 16 kHz: the same signal as FFmpeg's decoders and PyAV's resampler
made of it (the decoders before issue 13's tap work), each 20 ms packet to its 20 ms frame at once
(the resampler held 1–2 ms back, so every frame waited for the next packet), and a corrupt payload
dropped."""

import itertools
from collections.abc import Callable

import av
import numpy as np
import pytest
from media_controller.call_codecs import OPUS, PCMA, PCMU, CodecSpec
from media_controller.caller_tap import CallerTap
from media_controller.g711 import G711Decoder, G711Encoder, decode_table
from media_controller.opus import OpusDecoder
from media_controller.pcm_frames import frame_bytes, s16_frame_of
from media_controller.ratelimit import TokenBucket
from media_controller.rtp import build_rtp
from media_controller.upsample import Upsampler2x
from media_controller.vad import SpeechDetector

from tests.support.media import opus_packets, read_audio, speech_wav

TEXT = "Hello, I am calling about my order from last week, it has not arrived yet."
FRAME_BYTES = 640  # 20 ms at 16 kHz
SOURCE = ("127.0.0.1", 40000)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Real speech (espeak-ng), 16 kHz."""
    return read_audio(speech_wav(tmp_path_factory.mktemp("speech"), TEXT), 16000)


def resampled(frames: list[av.AudioFrame]) -> np.ndarray:
    """What PyAV's AudioResampler makes of decoded frames at 16 kHz (the old path)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    pcm = b"".join(frame_bytes(out) for frame in frames for out in resampler.resample(frame))
    return np.frombuffer(pcm, np.int16).astype(np.float64)


def snr_at_best_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> tuple[float, int]:
    """The signal-to-difference ratio (dB) of `signal` delayed by 0..max_lag samples against
    `reference`, at the lag where it is best."""
    best = (-np.inf, 0)
    count = min(reference.size, signal.size - max_lag)
    for lag in range(max_lag + 1):
        difference = reference[:count] - signal[lag : lag + count]
        snr = 10 * np.log10(np.sum(reference[:count] ** 2) / max(np.sum(difference**2), 1e-9))
        best = max(best, (float(snr), lag))
    return best


def test_opus_decodes_as_ffmpeg_and_the_resampler_did_each_packet_to_20_ms(speech: bytes) -> None:
    for rate in (16000, 48000):  # SILK wideband (a softphone at 16 kHz) and fullband (a browser)
        source = speech if rate == 16000 else np.repeat(np.frombuffer(speech, np.int16), 3).tobytes()
        packets = opus_packets(source, rate)
        decoder = OpusDecoder(16000)
        decoded = [decoder.decode(packet) for packet in packets]
        assert {len(pcm) for pcm in decoded} == {FRAME_BYTES}, "each 20 ms packet → 20 ms of 16 kHz PCM"
        codec = av.CodecContext.create("opus", "r")
        codec.sample_rate, codec.layout = 48000, "mono"
        reference = resampled([frame for packet in packets for frame in codec.decode(av.Packet(packet))])
        signal = np.frombuffer(b"".join(decoded), np.int16).astype(np.float64)
        snr, lag = snr_at_best_lag(reference, signal, max_lag=40)
        assert lag == 0, "no later than FFmpeg's 48 kHz decode and the resampler"
        assert snr >= 40, f"{snr:.1f} dB against FFmpeg's decoder and the resampler ({rate} Hz source)"


def test_an_empty_opus_payload_decodes_to_nothing() -> None:
    """As FFmpeg's decoder did (and G.711's does): libopus alone would conceal a lost packet, 120 ms."""
    assert OpusDecoder(16000).decode(b"") == b""


def test_opus_decodes_only_to_libopus_rates() -> None:
    with pytest.raises(ValueError, match="22050"):
        OpusDecoder(22050)


@pytest.mark.parametrize(("name", "codec"), [("pcm_mulaw", PCMU), ("pcm_alaw", PCMA)])
def test_g711_decodes_as_the_resampler_did_each_payload_to_20_ms(
    speech: bytes, name: str, codec: CodecSpec
) -> None:
    encoder = G711Encoder(name, 16000)  # type: ignore[arg-type]
    payloads = encoder.encode(speech) + encoder.flush()
    decoder = codec.decoder(16000)
    decoded = [decoder.decode(payload) for payload in payloads]
    assert {len(pcm) for pcm in decoded} == {FRAME_BYTES}, "each 20 ms payload → 20 ms of 16 kHz PCM"
    table = decode_table(name)  # type: ignore[arg-type]
    reference = resampled(
        [s16_frame_of(table[np.frombuffer(payload, np.uint8)].tobytes(), 8000) for payload in payloads]
    )
    signal = np.frombuffer(b"".join(decoded), np.int16).astype(np.float64)
    snr, lag = snr_at_best_lag(reference, signal, max_lag=40)
    assert lag == 23  # the interpolation filter's delay, 1.4 ms: inside the signal, nothing held
    assert snr >= 40, f"{snr:.1f} dB against PyAV's resampler"
    assert np.corrcoef(reference[:-lag], signal[lag:][: reference.size - lag])[0, 1] >= 0.9999


def test_g711_at_8_khz_is_the_table_alone() -> None:
    payload = bytes(range(160))
    table = decode_table("pcm_mulaw")
    assert G711Decoder("pcm_mulaw", 8000).decode(payload) == table[list(payload)].tobytes()
    with pytest.raises(ValueError):
        G711Decoder("pcm_mulaw", 22050)


def test_the_upsampler_interpolates_a_tone_exactly_in_pieces_of_any_size() -> None:
    rate = 8000
    tone = (np.sin(2 * np.pi * 1000 * np.arange(rate) / rate) * 10000).astype(np.int16)
    whole = np.frombuffer(Upsampler2x().upsample(tone), np.int16).astype(np.float64)
    pieces = Upsampler2x()
    cuts = [0, 1, 160, 333, 500, 7999, rate]
    parts = b"".join(pieces.upsample(tone[a:b]) for a, b in itertools.pairwise(cuts))
    assert np.array_equal(np.frombuffer(parts, np.int16), whole.astype(np.int16))
    expected = 10000 * np.sin(2 * np.pi * 1000 * (np.arange(whole.size) - 23) / 16000)
    error = whole[100:] - expected[100:]
    assert np.sqrt(np.mean(error**2)) < 2  # under one LSB of 16-bit rounding, 1.4 ms late


def test_a_full_scale_square_wave_is_clipped_not_wrapped() -> None:
    square = np.tile(np.array([32000] * 40 + [-32000] * 40, np.int16), 10)
    out = np.frombuffer(Upsampler2x().upsample(square), np.int16).astype(np.int32)
    assert out.max() == 32767 and out.min() == -32768  # the filter rings past full scale: clipped
    assert np.abs(np.diff(out)).max() < 50000  # a wrapped sample would jump by ~65536


class Frames:
    """What the tap hands on, with the clock at each frame."""

    def __init__(self) -> None:
        self.now = 100.0
        self.frames: list[bytes] = []
        self.stamps: list[float] = []

    def clock(self) -> float:
        return self.now

    def voice(self, frame: bytes, at_ms: float, voiced: bool, rms: float) -> None:
        self.stamps.append(at_ms)


def tap_for(codec: CodecSpec, seen: Frames) -> CallerTap:
    tap = CallerTap(
        SpeechDetector(),
        jitter_depth=3,
        on_frame=seen.frames.append,
        on_speech=lambda change: None,
        on_voice=seen.voice,
        flood_guard=TokenBucket(rate=1e6, burst=1e6),
        clock=seen.clock,
    )
    tap.expect(SOURCE, codec.payload_type, codec)
    return tap


PayloadsOf = Callable[[bytes], list[bytes]]
CODEC_PAYLOADS: list[tuple[CodecSpec, PayloadsOf]] = [
    (OPUS, lambda speech: opus_packets(speech, 16000)),
    (PCMU, lambda speech: G711Encoder("pcm_mulaw", 16000).encode(speech)),
]


@pytest.mark.parametrize(("codec", "payloads_of"), CODEC_PAYLOADS, ids=["opus", "pcmu"])
async def test_each_caller_packet_gives_its_frame_at_once(
    speech: bytes, codec: CodecSpec, payloads_of: PayloadsOf
) -> None:
    payloads = payloads_of(speech)[:100]
    seen = Frames()
    tap = tap_for(codec, seen)
    arrivals: list[float] = []
    try:
        for n, payload in enumerate(payloads):
            seen.now += 0.020
            arrivals.append(seen.now * 1000)
            datagram = build_rtp(codec.payload_type, n, n * codec.frame_samples, 0x1234, payload)
            tap.on_datagram(datagram, SOURCE)
            assert len(seen.frames) == n + 1, f"packet {n}: its frame waits for the next packet"
    finally:
        tap.close()
    assert {len(frame) for frame in seen.frames} == {FRAME_BYTES}
    assert seen.stamps == arrivals  # each frame stamped with its own packet's arrival
    assert tap.concealed == 0


async def test_a_corrupt_opus_payload_is_dropped_and_the_stream_goes_on(speech: bytes) -> None:
    payloads = opus_packets(speech, 16000)[:30]
    payloads[10] = b"\xff\xfe\xfd garbage"
    seen = Frames()
    tap = tap_for(OPUS, seen)
    try:
        for n, payload in enumerate(payloads):
            seen.now += 0.020
            tap.on_datagram(build_rtp(OPUS.payload_type, n, n * 960, 0x1234, payload), SOURCE)
    finally:
        tap.close()
    assert len(seen.frames) == len(payloads) - 1  # that packet's 20 ms are missing, nothing else
    assert {len(frame) for frame in seen.frames} == {FRAME_BYTES}
    assert tap.frames == len(payloads) - 1
