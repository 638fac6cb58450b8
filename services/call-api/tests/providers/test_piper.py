"""PiperTTS: the packaged voice streams PCM per sentence (the first sentence's audio before the
rest is synthesised), a closed stream starts nothing more, and a voice that cannot load fails at
start — the factory then falls back to espeak-ng and says so in the log; after overlapping
sentences, a worker gone idle shrinks the arena once. The voice is loaded once
per test process (load_voice is cached)."""

import asyncio
import contextlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import pytest
from call_api.providers import config
from call_api.providers.base import ProviderError
from call_api.providers.tts import piper
from call_api.providers.tts.espeak import EspeakTTS
from call_api.providers.tts.piper import PiperTTS, packaged_voice
from voicebot_tracing import heap

THREE_SENTENCES = "Hello there. This is the second sentence. And here is a third one."


@pytest.fixture
def counted_sentences(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every sentence handed to the synthesiser, in order (the real synthesis still runs)."""
    PiperTTS()  # loaded (and its warm-up word spoken) before counting starts
    started: list[str] = []
    real = piper.synthesize_sentence

    def counting(voice, sentence: str, volume: float) -> bytes:
        started.append(sentence)
        return real(voice, sentence, volume)

    monkeypatch.setattr(piper, "synthesize_sentence", counting)
    return started


async def test_the_packaged_voice_streams_pcm_per_sentence(counted_sentences: list[str]) -> None:
    tts = PiperTTS()
    assert (tts.name, tts.voice, tts.sample_rate) == ("piper", "en_US-joe-medium", 22050)
    chunks = []
    started_at_first_chunk = 0
    async with contextlib.aclosing(tts.synthesize(THREE_SENTENCES)) as audio:
        async for chunk in audio:
            if not chunks:
                started_at_first_chunk = len(counted_sentences)
            chunks.append(chunk)
    # The first audio went out when at most the next sentence had been started, not the third.
    assert started_at_first_chunk <= 2
    assert counted_sentences == [
        "Hello there.",
        "This is the second sentence.",
        "And here is a third one.",
    ]
    pcm = b"".join(chunks)
    assert all(len(c) % 2 == 0 for c in chunks) and len(chunks) >= 3
    assert b"RIFF" not in pcm[:64]
    assert 2.0 < len(pcm) / 2 / tts.sample_rate < 8.0
    peak = max(abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) for i in range(0, len(pcm), 2))
    assert 20000 < peak <= 32767  # normalised speech, not silence


def test_the_first_sentence_is_cut_after_its_first_comma() -> None:
    assert piper.speech_units("Which day suits you, Monday, Wednesday or Friday? Take your time.") == [
        "Which day suits you,",
        "Monday, Wednesday or Friday?",
        "Take your time.",
    ]
    assert piper.speech_units("Hello Ann, this is the clinic. Fine, thanks.") == [
        "Hello Ann,",
        "this is the clinic.",
        "Fine, thanks.",
    ]
    # a one-word part would sound clipped: the next comma, or no cut
    assert piper.speech_units("Yes, of course, we can.") == ["Yes, of course,", "we can."]
    assert piper.speech_units("Sorry, no.") == ["Sorry, no."]


async def test_closing_the_stream_starts_no_further_sentence(counted_sentences: list[str]) -> None:
    tts = PiperTTS()
    async with contextlib.aclosing(tts.synthesize(THREE_SENTENCES)) as audio:
        async for _ in audio:
            break  # a barge-in on the first chunk
    await asyncio.sleep(0)
    assert len(counted_sentences) <= 2
    assert "And here is a third one." not in counted_sentences


async def test_check_costs_no_synthesis(counted_sentences: list[str]) -> None:
    await PiperTTS().check()  # the voice spoke its warm-up word when it was loaded
    assert counted_sentences == []


def test_a_missing_voice_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="does not exist"):
        PiperTTS(tmp_path / "nosuch.onnx")


def broken_voice(tmp_path: Path) -> Path:
    """A voice whose config is right but whose weights are garbage."""
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx model" * 100)
    Path(f"{model}.json").write_text(packaged_voice().config.read_text())
    return model


def test_a_broken_voice_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="failed to load"):
        PiperTTS(broken_voice(tmp_path))


def test_piper_is_the_default_and_espeak_the_logged_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CALL_API_TTS_PROVIDER", raising=False)
    monkeypatch.delenv("CALL_API_PIPER_VOICE_PATH", raising=False)
    tts = config.make_tts(config.ProviderSettings())
    assert isinstance(tts, PiperTTS) and tts.voice == "en_US-joe-medium"

    monkeypatch.setenv("CALL_API_PIPER_VOICE_PATH", str(broken_voice(tmp_path)))
    with caplog.at_level(logging.ERROR, logger=config.__name__):
        fallback = config.make_tts(config.ProviderSettings())
    assert isinstance(fallback, EspeakTTS) and fallback.voice == "en-us+f3"
    assert [r.getMessage() for r in caplog.records] == ["piper cannot load, falling back to espeak-ng"]
    assert "broken.onnx" in caplog.records[0].__dict__["error"]


def test_a_voice_path_points_at_another_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The setting names a .onnx; its .onnx.json beside it gives the sample rate."""
    packaged = packaged_voice()
    model = tmp_path / "my-voice.onnx"
    model.symlink_to(packaged.model)
    voice_config = json.loads(packaged.config.read_text())
    voice_config["audio"]["sample_rate"] = 16000
    Path(f"{model}.json").write_text(json.dumps(voice_config))
    monkeypatch.setenv("CALL_API_TTS_PROVIDER", "piper")
    monkeypatch.setenv("CALL_API_PIPER_VOICE_PATH", str(model))
    tts = config.make_tts(config.ProviderSettings())
    assert isinstance(tts, PiperTTS)
    assert (tts.voice, tts.sample_rate) == ("my-voice", 16000)


class CountingRuns:
    """The onnxruntime session under ShrinkingSession: counts runs; with a barrier, runs wait
    until that many are inside at once (so they certainly overlap)."""

    def __init__(self, session: object, barrier: threading.Barrier | None = None) -> None:
        self.session = session
        self.barrier = barrier
        self.runs = 0

    def run(self, *args: object) -> object:
        self.runs += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        return self.session.run(*args)  # type: ignore[attr-defined]


def test_an_idle_worker_shrinks_the_arena_once_after_overlapping_sentences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    voice = PiperTTS()._voice
    session = cast(piper.ShrinkingSession, voice.session)
    one_word = voice.phonemes_to_ids(voice.phonemize("ok")[0])
    assert any(getattr(release, "func", None) is piper.release_arena for release in heap._idle_releases)

    overlapping = CountingRuns(session._session, threading.Barrier(2))
    monkeypatch.setattr(session, "_session", overlapping)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda text: piper.synthesize_sentence(voice, text, 0.9), ["One.", "Two."]))
    assert session.overlapped

    counted = CountingRuns(overlapping.session)
    monkeypatch.setattr(session, "_session", counted)
    piper.release_arena(voice, one_word)
    piper.release_arena(voice, one_word)  # nothing overlapped since: no run
    assert counted.runs == 1
    assert not session.overlapped
