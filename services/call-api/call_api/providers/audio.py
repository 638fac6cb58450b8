"""PCM helpers: resampling (libswresample through PyAV) and WAV headers.

All PCM here is signed 16-bit little-endian mono ("s16le"), the format every provider speaks."""

import io
import struct
import wave

import av
import numpy as np

SAMPLE_WIDTH = 2  # bytes per s16 sample


class PcmResampler:
    """Streaming resampler: push chunks of any size, get resampled PCM back; `flush()` at the end."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)
        self._odd = b""

    def push(self, pcm: bytes) -> bytes:
        pcm = self._odd + pcm
        usable = len(pcm) - len(pcm) % SAMPLE_WIDTH
        pcm, self._odd = pcm[:usable], pcm[usable:]
        if not pcm:
            return b""
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.from_rate
        return b"".join(bytes(out.to_ndarray().tobytes()) for out in self._resampler.resample(frame))

    def flush(self) -> bytes:
        return b"".join(bytes(out.to_ndarray().tobytes()) for out in self._resampler.resample(None))


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole s16le mono buffer."""
    if from_rate == to_rate:
        return pcm
    resampler = PcmResampler(from_rate, to_rate)
    return resampler.push(pcm) + resampler.flush()


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A complete WAV file around s16le mono PCM."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int]:
    """(PCM, sample rate) of a complete s16 mono WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != SAMPLE_WIDTH or wav.getnchannels() != 1:
            raise ValueError("expected 16-bit mono WAV")
        return wav.readframes(wav.getnframes()), wav.getframerate()


class WavHeaderError(ValueError):
    pass


def parse_wav_header(head: bytes) -> tuple[int, int] | None:
    """For a WAV *stream* (sizes may be 0xFFFFFFFF, as espeak-ng --stdout writes them):
    (offset of the first PCM byte, sample rate), or None if `head` is too short to tell yet.
    Raises WavHeaderError if the stream is not s16 mono PCM WAV."""
    if len(head) < 12:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavHeaderError("not a RIFF/WAVE stream")
    offset = 12
    sample_rate = 0
    while True:
        if len(head) < offset + 8:
            return None
        chunk_id, size = head[offset : offset + 4], struct.unpack("<I", head[offset + 4 : offset + 8])[0]
        body = offset + 8
        if chunk_id == b"data":
            if not sample_rate:
                raise WavHeaderError("data chunk before fmt chunk")
            return body, sample_rate
        if len(head) < body + size:
            return None
        if chunk_id == b"fmt ":
            fmt, channels, sample_rate, _, _, bits = struct.unpack("<HHIIHH", head[body : body + 16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise WavHeaderError(f"unsupported WAV format {fmt}, {channels} ch, {bits} bit")
        offset = body + size + (size % 2)
