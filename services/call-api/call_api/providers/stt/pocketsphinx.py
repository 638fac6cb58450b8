"""Offline STT: pocketsphinx 5 with the en-us model its wheel bundles.

With expected phrases, decoding runs against a JSGF grammar of those phrases: accurate on clear
speech and cheap (real-time factor ≈ 0.035, so a 20 ms frame costs < 1 ms and is decoded inline on
the event loop). Without phrases it falls back to the bundled general language model: ~13x slower
(RTF ≈ 0.4, so frames are decoded in a worker thread) and much less accurate — use a cloud STT
for free speech.

Decoders are expensive to build (≈ 0.2 s, ≈ 28 MB; +33 MB once the language model is attached), so
a process keeps a small pool of idle ones; a session borrows one for one utterance."""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pocketsphinx

from call_api.providers.base import ProviderError, SttResult
from call_api.providers.stt.grammar import grammar_phrases, jsgf

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_GRAMMAR_SEARCH = "expected"
_FREE_SPEECH_SEARCH = "free_speech"


class _DecoderPool:
    def __init__(self, max_idle: int, config: dict[str, Any]) -> None:
        self.max_idle = max_idle
        self.config = config
        self._idle: list[pocketsphinx.Decoder] = []
        self._lm: pocketsphinx.NGramModel | None = None
        self._lm_lock = threading.Lock()

    def _build(self) -> pocketsphinx.Decoder:
        return pocketsphinx.Decoder(lm=None, **self.config)

    async def acquire(self) -> pocketsphinx.Decoder:
        if self._idle:
            return self._idle.pop()
        try:
            return await asyncio.to_thread(self._build)
        except (RuntimeError, ValueError) as error:
            raise ProviderError("stt", f"pocketsphinx decoder failed to start: {error}") from error

    def release(self, decoder: pocketsphinx.Decoder) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(decoder)

    def attach_language_model(self, decoder: pocketsphinx.Decoder) -> None:
        """Blocking (run it in a thread): the general LM is loaded once per process, shared by decoders."""
        with self._lm_lock:
            if self._lm is None:
                path = pocketsphinx.get_model_path("en-us/en-us.lm.bin")
                self._lm = pocketsphinx.NGramModel(decoder.config, decoder.logmath, path)
            lm = self._lm
        if decoder.get_lm(_FREE_SPEECH_SEARCH) is None:
            decoder.add_lm(_FREE_SPEECH_SEARCH, lm)


class PocketsphinxSession:
    """One utterance. feed() returns a partial when the hypothesis changed; finish() the final text."""

    def __init__(self, decoder: pocketsphinx.Decoder, pool: _DecoderPool, in_thread: bool) -> None:
        self._decoder = decoder
        self._pool = pool
        self._in_thread = in_thread
        self._odd = b""
        self._last_partial = ""
        self._lock = asyncio.Lock()
        self._in_flight: asyncio.Future[str] | None = None  # a thread still using the decoder
        self._open = True
        self.audio_bytes = 0

    def _decode(self, pcm: bytes) -> str:
        self._decoder.process_raw(pcm)
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def _end(self) -> str:
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    async def _run(self, step: Callable[..., str], *args: Any) -> str:
        if not self._in_thread:
            return step(*args)
        if self._in_flight is not None:  # left running by a cancelled feed(): let it finish first
            with contextlib.suppress(Exception):
                await asyncio.shield(self._in_flight)
        self._in_flight = asyncio.get_running_loop().run_in_executor(None, step, *args)
        return await asyncio.shield(self._in_flight)

    async def feed(self, pcm: bytes) -> SttResult | None:
        if not self._open:
            raise ProviderError("stt", "feed() on a finished session")
        pcm = self._odd + pcm
        usable = len(pcm) - len(pcm) % 2
        pcm, self._odd = pcm[:usable], pcm[usable:]
        if not pcm:
            return None
        self.audio_bytes += len(pcm)
        async with self._lock:
            try:
                text = await self._run(self._decode, pcm)
            except RuntimeError as error:
                await self.aclose()
                raise ProviderError("stt", f"pocketsphinx failed: {error}") from error
        if text and text != self._last_partial:
            self._last_partial = text
            return SttResult(text=text, final=False)
        return None

    async def finish(self) -> SttResult:
        if not self._open:
            raise ProviderError("stt", "finish() on a finished session")
        async with self._lock:
            try:
                text = await self._run(self._end)
            except RuntimeError as error:
                self._open = False
                raise ProviderError("stt", f"pocketsphinx failed: {error}") from error
            self._open = False
            self._pool.release(self._decoder)
        return SttResult(text=text, final=True)

    async def aclose(self) -> None:
        """Abandon the utterance (idempotent). The decoder goes back to the pool, unless a thread a
        cancellation left behind is still using it — then it is dropped."""
        if not self._open:
            return
        self._open = False
        if self._in_flight is not None and not self._in_flight.done():
            return
        try:
            self._decoder.end_utt()
        except RuntimeError:
            return
        self._pool.release(self._decoder)


class PocketsphinxSTT:
    final_timeout: float | None = None
    name = "pocketsphinx"
    sample_rate = SAMPLE_RATE

    def __init__(self, max_idle_decoders: int = 4, **decoder_config: Any) -> None:
        """decoder_config: pocketsphinx options (hmm=, dict=, ...); defaults are the bundled en-us model."""
        self._pool = _DecoderPool(max_idle_decoders, decoder_config)

    async def open(self, phrases: Sequence[str] = ()) -> PocketsphinxSession:
        decoder = await self._pool.acquire()
        try:
            expected = grammar_phrases(phrases, lambda word: decoder.lookup_word(word) is not None)
            if expected:
                decoder.add_jsgf_string(_GRAMMAR_SEARCH, jsgf(expected))
                decoder.activate_search(_GRAMMAR_SEARCH)
                in_thread = False
            else:
                await asyncio.to_thread(self._pool.attach_language_model, decoder)
                decoder.activate_search(_FREE_SPEECH_SEARCH)
                in_thread = True
            decoder.start_utt()
        except (RuntimeError, ValueError, KeyError) as error:
            raise ProviderError("stt", f"pocketsphinx could not start an utterance: {error}") from error
        return PocketsphinxSession(decoder, self._pool, in_thread)

    async def check(self) -> None:
        """Build one decoder now (so the first call doesn't pay for it) and keep it in the pool."""
        self._pool.release(await self._pool.acquire())
