"""Provider choice from the environment."""

import pytest
from call_api.providers.config import ProviderSettings, make_dialog, make_stt, make_tts
from call_api.providers.dialog.openai_chat import OpenAIChatDialog
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.stt.deepgram import DeepgramSTT
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
from call_api.providers.tts.espeak import EspeakTTS
from call_api.providers.tts.openai import OpenAITTS
from call_api.providers.tts.piper import PiperTTS
from pydantic import ValidationError


def test_defaults_are_offline(monkeypatch) -> None:
    for name in ("TTS_PROVIDER", "STT_PROVIDER", "DIALOG_PROVIDER", "TTS_VOICE", "PIPER_VOICE_PATH"):
        monkeypatch.delenv(f"CALL_API_{name}", raising=False)
    settings = ProviderSettings()
    tts = make_tts(settings)
    assert isinstance(tts, PiperTTS) and tts.voice == "en_US-joe-medium" and tts.sample_rate == 22050
    espeak = make_tts(ProviderSettings(tts_provider="espeak"))
    assert isinstance(espeak, EspeakTTS) and espeak.voice == "en-us+f3" and espeak.sample_rate == 22050
    assert isinstance(make_stt(settings), PocketsphinxSTT)
    dialog = make_dialog(settings, {"contact_name": "Anna"})
    assert isinstance(dialog, ScenarioDialog) and dialog.vars["contact_name"] == "Anna"
    assert make_dialog(settings, {}) is not dialog  # one per call


def test_cloud_providers_from_env(monkeypatch) -> None:
    monkeypatch.setenv("CALL_API_TTS_PROVIDER", "openai")
    monkeypatch.setenv("CALL_API_STT_PROVIDER", "deepgram")
    monkeypatch.setenv("CALL_API_DIALOG_PROVIDER", "openai")
    monkeypatch.setenv("CALL_API_OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("CALL_API_DEEPGRAM_API_KEY", "dg-test")
    monkeypatch.setenv("CALL_API_DEEPGRAM_URL", "ws://127.0.0.1:1/v1/listen")
    settings = ProviderSettings()
    tts = make_tts(settings)
    assert isinstance(tts, OpenAITTS) and tts.voice == "alloy" and tts.api_key == "sk-test"
    stt = make_stt(settings)
    assert isinstance(stt, DeepgramSTT) and stt.url == "ws://127.0.0.1:1/v1/listen"
    assert isinstance(make_dialog(settings, {}), OpenAIChatDialog)
    assert "sk-test" not in repr(settings)


def test_missing_keys_fail_at_start(monkeypatch) -> None:
    monkeypatch.setenv("CALL_API_STT_PROVIDER", "deepgram")
    monkeypatch.delenv("CALL_API_DEEPGRAM_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="DEEPGRAM_API_KEY"):
        ProviderSettings()


def test_a_local_llm_server_needs_no_key(monkeypatch) -> None:
    monkeypatch.setenv("CALL_API_DIALOG_PROVIDER", "openai")
    monkeypatch.setenv("CALL_API_OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.delenv("CALL_API_OPENAI_API_KEY", raising=False)
    assert isinstance(make_dialog(ProviderSettings(), {}), OpenAIChatDialog)
