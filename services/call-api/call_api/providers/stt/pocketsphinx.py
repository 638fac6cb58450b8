"""Offline STT: pocketsphinx 5 with the en-us model its wheel bundles.

With expected phrases, decoding runs against a JSGF grammar of those phrases: accurate on clear
speech and cheap (real-time factor ≈ 0.035, so a 20 ms frame costs < 1 ms and is decoded inline on
the event loop). Without phrases it falls back to the bundled general language model: ~13x slower
(RTF ≈ 0.4, so frames are decoded in a worker thread) and much less accurate — use a cloud STT
for free speech.

Memory (docs/architecture.md, "Memory"): a decoder costs ≈ 0.2 s to build and ≈ 27 MB with the
bundled 126k-word dictionary, ≈ 5.5 MB without it. So grammar decoders start with no dictionary
and are taught their grammar's words from one table per process (pronunciations.py); a session
takes a decoder only once its audio sounds like speech (speech_gate.py), so a call listening to
silence holds none; a process keeps a small pool of idle decoders, frees the rest and trims the
heap (heap.py). Free-speech decoders keep the whole dictionary (the language model's words) and
share one language model."""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pocketsphinx
from voicebot_tracing import heap

from call_api.providers.base import ProviderError, SttResult
from call_api.providers.stt.grammar import grammar_phrases, jsgf
from call_api.providers.stt.pronunciations import MAX_TAUGHT_WORDS, load_pronunciations, teach
from call_api.providers.stt.speech_gate import SpeechGate

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_GRAMMAR_SEARCH = "expected"
_FREE_SPEECH_SEARCH = "free_speech"
_NBEST_FOR_A_WHOLE_PHRASE = 10


@dataclass
class Pooled:
    decoder: pocketsphinx.Decoder
    taught_words: int = 0


class _DecoderPool:
    """Idle decoders of one kind: grammar (no dictionary of their own) or free speech."""

    def __init__(self, max_idle: int, config: dict[str, Any]) -> None:
        self.max_idle = max_idle
        self.config = config
        self._idle: list[Pooled] = []
        self._lm: pocketsphinx.NGramModel | None = None
        self._lm_lock = threading.Lock()

    def _build(self) -> Pooled:
        return Pooled(pocketsphinx.Decoder(lm=None, **self.config))

    async def acquire(self) -> Pooled:
        if self._idle:
            return self._idle.pop()
        try:
            return await asyncio.to_thread(self._build)
        except (RuntimeError, ValueError) as error:
            raise ProviderError("stt", f"pocketsphinx decoder failed to start: {error}") from error

    def release(self, pooled: Pooled) -> None:
        if len(self._idle) < self.max_idle and pooled.taught_words <= MAX_TAUGHT_WORDS:
            self._idle.append(pooled)
            return
        heap.trim_soon()  # the decoder is freed: its pages go back to the kernel

    def attach_language_model(self, decoder: pocketsphinx.Decoder) -> None:
        """Blocking (run it in a thread): the general LM is loaded once per process, shared by decoders."""
        with self._lm_lock:
            if self._lm is None:
                path = pocketsphinx.get_model_path("en-us/en-us.lm.bin")
                self._lm = pocketsphinx.NGramModel(decoder.config, decoder.logmath, path)
            lm = self._lm
        if decoder.get_lm(_FREE_SPEECH_SEARCH) is None:
            decoder.add_lm(_FREE_SPEECH_SEARCH, lm)


@dataclass(frozen=True)
class _Listening:
    """What a session's decoder is set up for once it has one: a grammar (its words, its JSGF) or,
    with grammar None, free speech."""

    pool: _DecoderPool
    words: tuple[str, ...]
    grammar: str | None
    pronunciations: Any
    phrases: frozenset[str] = frozenset()  # the grammar's sentences


def _whole_phrase(decoder: pocketsphinx.Decoder, phrases: frozenset[str]) -> str | None:
    """The best hypothesis that is one of the grammar's phrases. With no path to the grammar's end,
    pocketsphinx returns the best partial one: a short "okay" came out as "book an" (of "book an
    appointment"), an answer."""
    for hypothesis, _ in zip(decoder.nbest(), range(_NBEST_FOR_A_WHOLE_PHRASE), strict=False):
        if hypothesis.hypstr in phrases:
            return str(hypothesis.hypstr)
    return None


class PocketsphinxSession:
    """One utterance. feed() returns a partial when the hypothesis changed; finish() the final text
    (empty, with no decoding at all, when the audio never sounded like speech: speech_gate.py)."""

    def __init__(self, listening: _Listening) -> None:
        self._listening = listening
        self._in_thread = listening.grammar is None
        self._gate = SpeechGate(SAMPLE_RATE)
        self._pooled: Pooled | None = None
        self._odd = b""
        self._last_partial = ""
        self._lock = asyncio.Lock()
        self._in_flight: asyncio.Future[str] | None = None  # a thread still using the decoder
        self._open = True
        self.audio_bytes = 0

    @property
    def holds_decoder(self) -> bool:
        return self._pooled is not None

    async def _take_decoder(self) -> Pooled:
        spec = self._listening
        pooled = await spec.pool.acquire()
        decoder = pooled.decoder
        try:
            if spec.grammar is not None:
                pooled.taught_words += teach(decoder, spec.words, spec.pronunciations)
                decoder.add_jsgf_string(_GRAMMAR_SEARCH, spec.grammar)
                decoder.activate_search(_GRAMMAR_SEARCH)
            else:
                await asyncio.to_thread(spec.pool.attach_language_model, decoder)
                decoder.activate_search(_FREE_SPEECH_SEARCH)
            decoder.start_utt()
        except (RuntimeError, ValueError, KeyError) as error:
            raise ProviderError("stt", f"pocketsphinx could not start an utterance: {error}") from error
        return pooled

    def _decode(self, pcm: bytes) -> str:
        assert self._pooled is not None
        self._pooled.decoder.process_raw(pcm)
        hyp = self._pooled.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def _end(self) -> str:
        assert self._pooled is not None
        decoder = self._pooled.decoder
        decoder.end_utt()
        hyp = decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        phrases = self._listening.phrases
        if not phrases or not text or text in phrases:
            return text
        return _whole_phrase(decoder, phrases) or text

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
        speech = self._gate.push(pcm)
        if not speech:
            return None
        async with self._lock:
            if self._pooled is None:
                pooled = await self._take_decoder()
                if not self._open:  # closed while the decoder was being made
                    self._give_back(pooled)
                    return None
                self._pooled = pooled
            try:
                text = await self._run(self._decode, speech)
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
            maybe_speech = self._gate.maybe_speech
            held = self._gate.take_held()
            if not maybe_speech:  # only silence was held
                held = b""
            if self._pooled is None and not held:  # nothing sounded like speech: no decoding at all
                self._open = False
                return SttResult(text="", final=True)
            if self._pooled is None:  # an utterance as short as the VAD's warm-up
                self._pooled = await self._take_decoder()
            try:
                if held:
                    await self._run(self._decode, held)
                text = await self._run(self._end)
            except RuntimeError as error:
                self._open = False
                raise ProviderError("stt", f"pocketsphinx failed: {error}") from error
            self._open = False
            pooled, self._pooled = self._pooled, None
            self._listening.pool.release(pooled)
        return SttResult(text=text, final=True)

    def _give_back(self, pooled: Pooled) -> None:
        try:
            pooled.decoder.end_utt()
        except RuntimeError:
            return
        self._listening.pool.release(pooled)

    async def aclose(self) -> None:
        """Abandon the utterance (idempotent). The decoder goes back to the pool, unless a thread a
        cancellation left behind is still using it — then it is dropped."""
        if not self._open:
            return
        self._open = False
        self._gate.take_held()
        pooled, self._pooled = self._pooled, None
        if pooled is None or (self._in_flight is not None and not self._in_flight.done()):
            return
        self._give_back(pooled)


class PocketsphinxSTT:
    final_timeout: float | None = None
    name = "pocketsphinx"
    sample_rate = SAMPLE_RATE

    def __init__(self, max_idle_decoders: int = 4, **decoder_config: Any) -> None:
        """decoder_config: pocketsphinx options (hmm=, dict=, ...); defaults are the bundled en-us
        model. Reads the pronunciation dictionary now (blocking, ≈ 0.7 s once per process)."""
        dictionary = decoder_config.get("dict") or pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")
        try:
            self._pronunciations = load_pronunciations(Path(dictionary))
        except OSError as error:
            raise ProviderError("stt", f"pocketsphinx dictionary {dictionary} unreadable: {error}") from error
        self._grammar_pool = _DecoderPool(max_idle_decoders, {**decoder_config, "dict": None})
        self._free_speech_pool = _DecoderPool(max_idle_decoders, decoder_config)

    def _knows(self, word: str) -> bool:
        return word in self._pronunciations

    async def open(self, phrases: Sequence[str] = ()) -> PocketsphinxSession:
        """Cheap: no decoder yet (the session takes one when speech starts)."""
        expected = grammar_phrases(phrases, self._knows)
        if not expected:
            return PocketsphinxSession(_Listening(self._free_speech_pool, (), None, self._pronunciations))
        words = tuple(dict.fromkeys(word for phrase in expected for word in phrase.split()))
        grammar = jsgf(expected)
        listening = _Listening(self._grammar_pool, words, grammar, self._pronunciations, frozenset(expected))
        return PocketsphinxSession(listening)

    async def check(self) -> None:
        """Build one decoder now (so the first call doesn't pay for it) and keep it in the pool."""
        self._grammar_pool.release(await self._grammar_pool.acquire())
