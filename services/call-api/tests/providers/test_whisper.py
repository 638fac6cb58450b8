"""WhisperSTT: the packaged tiny.en transcribes free speech (espeak-ng sentences outside any
grammar), silence gives no text, the model path is a setting, and a bad path fails at start with a
message that names it. The packaged model is loaded once per test process (load_model is cached)."""

from pathlib import Path

import pytest
from call_api.providers import config
from call_api.providers.base import ProviderError
from call_api.providers.stt.accuracy import word_error_rate
from call_api.providers.stt.whisper import MODEL_FILES, WhisperSTT, packaged_model_path
from voicebot_callsim.audio import speech_pcm

FRAME = 640  # 20 ms of 16 kHz s16le
FREE_SENTENCES = [
    "I would like to move my appointment to next Tuesday",
    "Can you tell me where the clinic is",
    "My daughter has a fever and a sore throat",
]


async def hear(stt: WhisperSTT, pcm: bytes) -> str:
    session = await stt.open(())
    try:
        for offset in range(0, len(pcm), FRAME):
            assert await session.feed(pcm[offset : offset + FRAME]) is None  # no partials
        result = await session.finish()
    finally:
        await session.aclose()
    assert result.final
    return result.text


async def test_espeak_free_speech_is_transcribed() -> None:
    stt = WhisperSTT()
    await stt.check()
    pairs = [(sentence, await hear(stt, speech_pcm(sentence))) for sentence in FREE_SENTENCES]
    wer = word_error_rate(pairs)
    print(f"\nespeak→whisper free speech WER {wer:.2f}: {pairs}")
    # espeak's robotic f3 voice is hard for Whisper, and how hard depends on the CPU that runs
    # ctranslate2's int8 kernels (0.33 on one machine, 0.41 on another: the same sentence mostly
    # lost, one word more missed). What is asserted is free speech heard as free speech: most
    # sentences nearly word for word, none mapped onto a grammar's phrase. Piper speech is
    # recognised word for word (test_neural_roundtrip.py).
    heard = [pair for pair in pairs if word_error_rate([pair]) <= 0.2]
    assert len(heard) >= 2, pairs
    assert wer <= 0.5, pairs


async def test_silence_gives_no_text_and_a_session_is_single_use() -> None:
    stt = WhisperSTT()
    session = await stt.open(())
    await session.feed(bytes(32000))  # one second of digital silence
    assert (await session.finish()).text == ""
    with pytest.raises(ProviderError, match="finished"):
        await session.feed(b"\0\0")
    too_short = await stt.open(())
    await too_short.feed(bytes(640))
    assert (await too_short.finish()).text == ""


def custom_model_dir(tmp_path: Path) -> Path:
    """A deployment's own model directory (here: links to the packaged model's files)."""
    own = tmp_path / "my-whisper"
    own.mkdir()
    for name in (*MODEL_FILES, "vocabulary.txt"):
        (own / name).symlink_to(packaged_model_path() / name)
    return own


async def test_the_model_path_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = custom_model_dir(tmp_path)
    monkeypatch.setenv("CALL_API_STT_PROVIDER", "whisper")
    monkeypatch.setenv("CALL_API_WHISPER_MODEL_PATH", str(own))
    stt = config.make_stt(config.ProviderSettings())
    assert isinstance(stt, WhisperSTT) and stt.model_path == own.resolve()
    assert "yes" in (await hear(stt, speech_pcm("yes please"))).lower()

    monkeypatch.delenv("CALL_API_WHISPER_MODEL_PATH")
    default = config.make_stt(config.ProviderSettings())
    assert isinstance(default, WhisperSTT)
    assert default.model_path == packaged_model_path().resolve()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [("absent", "is not a directory"), ("no_weights", "missing model.bin"), ("garbage", "failed to load")],
)
def test_a_broken_model_path_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage: str, message: str
) -> None:
    path = tmp_path / "nosuch"
    if breakage != "absent":
        path = custom_model_dir(tmp_path)
        (path / "model.bin").unlink()
        if breakage == "garbage":
            (path / "model.bin").write_bytes(b"\0garbage" * 1000)
    monkeypatch.setenv("CALL_API_STT_PROVIDER", "whisper")
    monkeypatch.setenv("CALL_API_WHISPER_MODEL_PATH", str(path))
    with pytest.raises(ProviderError, match=message) as error:
        config.make_stt(config.ProviderSettings())
    assert str(path) in str(error.value)
