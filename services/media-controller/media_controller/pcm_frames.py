"""PCM s16le mono ⇄ PyAV audio frames (shared by the codecs)."""

import av
import numpy as np


def s16_frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


def frame_bytes(frame: av.AudioFrame) -> bytes:
    return bytes(frame.to_ndarray().astype(np.int16, copy=False).tobytes())
