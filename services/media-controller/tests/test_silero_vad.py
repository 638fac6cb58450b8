"""Silero VAD scores each chunk on the calling thread: ggml's OpenMP team (4 threads by default)
costs ~12x the model's work on a chunk this small and spins on cores the controller needs."""

import os
import subprocess
import sys

SCORE_AND_COUNT_THREADS = """
import os
import numpy as np
from media_controller.silero_vad import SileroStream

def threads():
    return len(os.listdir("/proc/self/task"))

stream = SileroStream(every_frame=True)
before = threads()
rng = np.random.default_rng(14)
for _ in range(10):
    stream.push((rng.standard_normal(320) * 3000).astype(np.int16))
print(before, threads(), stream.chunks)
"""


def test_silero_scores_on_the_calling_thread() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    done = subprocess.run(
        [sys.executable, "-c", SCORE_AND_COUNT_THREADS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    before, after, chunks = map(int, done.stdout.split())
    assert chunks >= 9, "the case is real: Silero scored the frames"
    assert after == before, f"scoring started {after - before} threads"
