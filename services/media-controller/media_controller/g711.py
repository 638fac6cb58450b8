"""G.711 (PCMU = μ-law, PCMA = A-law): PCM s16le mono at any rate ⇄ 20 ms payloads at 8 kHz (160
samples, one byte each). G.711 is a fixed map of each sample, so both directions are numpy table
look-ups; the tables are PyAV's own pcm_mulaw / pcm_alaw codecs run once over every value (the
same bytes as encoding frame by frame, at the cost of one array index). Resampling to 8 kHz for the
encoder is PyAV's; the caller's 8 kHz decoded to 16 kHz is a fixed 2x interpolation (`upsample.py`):
PyAV's resampler cost more per 20 ms payload than the decoding, and it held 2 ms back, so every
caller frame waited for the next packet."""

import functools
from typing import Literal

import av
import numpy as np

from media_controller.pcm_frames import FrameEncoder, frame_bytes, s16_frame_of
from media_controller.upsample import Upsampler2x

G711_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2  # of s16 PCM

G711Codec = Literal["pcm_mulaw", "pcm_alaw"]


@functools.cache
def encode_table(codec: G711Codec) -> np.ndarray:
    """The code of every s16 sample, indexed by the sample's bits as uint16."""
    every = np.arange(0x10000, dtype=np.uint16).view(np.int16)
    context = av.CodecContext.create(codec, "w")
    context.sample_rate, context.layout, context.format = G711_RATE, "mono", "s16"
    context.open()
    frame = s16_frame_of(every.tobytes(), G711_RATE)
    frame.pts = 0
    coded = b"".join(bytes(p) for p in context.encode(frame)) + b"".join(
        bytes(p) for p in context.encode(None)
    )
    table = np.frombuffer(coded, dtype=np.uint8)
    assert table.size == 0x10000
    return table


@functools.cache
def decode_table(codec: G711Codec) -> np.ndarray:
    """The s16 sample of every code byte."""
    context = av.CodecContext.create(codec, "r")
    context.sample_rate, context.layout = G711_RATE, "mono"
    pcm = b"".join(frame_bytes(f) for f in context.decode(av.Packet(bytes(range(256)))))
    return np.frombuffer(pcm, dtype=np.int16).copy()


class G711Encoder(FrameEncoder):
    """Feed PCM at `sample_rate` in pieces of any size; get whole 20 ms G.711 payloads out (the
    tail padded with silence on flush; G.711 itself has no delay)."""

    def __init__(self, codec: G711Codec, sample_rate: int) -> None:
        super().__init__(sample_rate, G711_RATE)
        self._table = encode_table(codec)

    def _encode_frame(self, frame: bytes) -> list[bytes]:
        return [self._table[np.frombuffer(frame, dtype=np.uint16)].tobytes()]


class G711Decoder:
    """G.711 payloads (any length) → PCM s16le mono at `output_rate` (8 kHz, or 16 kHz: twice the
    samples of each payload, none held back)."""

    def __init__(self, codec: G711Codec, output_rate: int = 16000) -> None:
        if output_rate not in (G711_RATE, 2 * G711_RATE):
            raise ValueError(f"G.711 decodes to 8 or 16 kHz, not {output_rate}")
        self._table = decode_table(codec)
        self._upsampler = Upsampler2x() if output_rate != G711_RATE else None

    def decode(self, payload: bytes) -> bytes:
        if not payload:
            return b""
        samples = self._table[np.frombuffer(payload, dtype=np.uint8)]
        if self._upsampler is None:
            return samples.tobytes()
        return self._upsampler.upsample(samples)
