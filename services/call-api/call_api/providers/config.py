"""Which providers a call-api process uses, from the environment (prefix CALL_API_), and plain
factories. TTS and STT objects are made once per process and shared by its calls (an STT session
is opened per utterance); a Dialog is made per call.

    CALL_API_TTS_PROVIDER=piper|espeak|openai  CALL_API_TTS_VOICE=...  (default per provider)
    CALL_API_PIPER_VOICE_PATH=...onnx (default: the packaged en_US-joe-medium; espeak-ng if it fails)
    CALL_API_STT_PROVIDER=pocketsphinx|whisper|deepgram
    CALL_API_WHISPER_MODEL_PATH=dir (default: the packaged tiny.en)  CALL_API_WHISPER_CPU_THREADS
    CALL_API_WHISPER_PHRASE_HINTS=true|false (the dialog's expected phrases as hotwords)
    CALL_API_DIALOG_PROVIDER=scenario|openai   CALL_API_SCENARIO_PATH=...yaml
    CALL_API_OPENAI_BASE_URL / _API_KEY / _MODEL / _TTS_MODEL
    CALL_API_DEEPGRAM_URL / _API_KEY / _MODEL
"""

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from call_api.providers.base import Dialog, ProviderError, SpeechToText, TextToSpeech
from call_api.providers.dialog.openai_chat import DEFAULT_SYSTEM_PROMPT, OpenAIChatDialog
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.dialog.scenario_file import DEFAULT_SCENARIO, Scenario, load_scenario
from call_api.providers.stt.deepgram import DEFAULT_URL as DEEPGRAM_URL
from call_api.providers.stt.deepgram import DeepgramSTT
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
from call_api.providers.stt.whisper import WhisperSTT
from call_api.providers.tts.espeak import DEFAULT_VOICE as ESPEAK_VOICE
from call_api.providers.tts.espeak import EspeakTTS
from call_api.providers.tts.openai import OpenAITTS
from call_api.providers.tts.piper import PiperTTS

log = logging.getLogger(__name__)

OPENAI_VOICE = "alloy"


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_API_", frozen=True, extra="ignore")

    tts_provider: Literal["piper", "espeak", "openai"] = "piper"
    tts_voice: str | None = None  # espeak: en-us+f3, openai: alloy (piper: see piper_voice_path)
    piper_voice_path: Path | None = None  # a Piper .onnx with its .onnx.json beside it
    piper_threads: int = Field(default=1, ge=0)  # onnxruntime threads per synthesis; 0: all cores
    stt_provider: Literal["pocketsphinx", "whisper", "deepgram"] = "pocketsphinx"
    whisper_model_path: Path | None = None  # a CTranslate2 Whisper model directory
    whisper_cpu_threads: int = Field(default=1, ge=0)
    whisper_phrase_hints: bool = True  # the dialog's expected phrases as Whisper hotwords
    dialog_provider: Literal["scenario", "openai"] = "scenario"
    scenario_path: Path = DEFAULT_SCENARIO

    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None  # may stay empty for local servers (vLLM, Ollama, llama.cpp)
    openai_model: str = "gpt-4o-mini"
    openai_tts_model: str = "gpt-4o-mini-tts"
    openai_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    openai_greeting: str = ""  # empty: the model writes the greeting

    deepgram_url: str = DEEPGRAM_URL
    deepgram_api_key: SecretStr | None = None
    deepgram_model: str = "nova-2"
    deepgram_endpointing_ms: int = Field(default=300, ge=10)

    connect_timeout: float = Field(default=3.0, gt=0)
    llm_first_token_timeout: float = Field(default=5.0, gt=0)
    llm_token_timeout: float = Field(default=5.0, gt=0)
    tts_first_chunk_timeout: float = Field(default=5.0, gt=0)
    tts_chunk_timeout: float = Field(default=5.0, gt=0)
    stt_finish_timeout: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _keys_present(self) -> "ProviderSettings":
        if self.stt_provider == "deepgram" and not self.deepgram_api_key:
            raise ValueError("CALL_API_DEEPGRAM_API_KEY is required with CALL_API_STT_PROVIDER=deepgram")
        api_openai = "api.openai.com" in self.openai_base_url
        if api_openai and "openai" in (self.tts_provider, self.dialog_provider) and not self.openai_api_key:
            raise ValueError("CALL_API_OPENAI_API_KEY is required to use api.openai.com")
        return self

    def openai_key(self) -> str | None:
        return self.openai_api_key.get_secret_value() if self.openai_api_key else None


def make_tts(settings: ProviderSettings) -> TextToSpeech:
    if settings.tts_provider == "openai":
        return OpenAITTS(
            base_url=settings.openai_base_url,
            api_key=settings.openai_key(),
            model=settings.openai_tts_model,
            voice=settings.tts_voice or OPENAI_VOICE,
            connect_timeout=settings.connect_timeout,
            first_chunk_timeout=settings.tts_first_chunk_timeout,
            chunk_timeout=settings.tts_chunk_timeout,
        )
    if settings.tts_provider == "piper":
        try:
            return PiperTTS(settings.piper_voice_path, intra_op_threads=settings.piper_threads)
        except ProviderError as error:
            log.error("piper cannot load, falling back to espeak-ng", extra={"error": str(error)})
            return EspeakTTS(voice=ESPEAK_VOICE)
    return EspeakTTS(voice=settings.tts_voice or ESPEAK_VOICE)


def make_stt(settings: ProviderSettings) -> SpeechToText:
    if settings.stt_provider == "deepgram":
        assert settings.deepgram_api_key is not None  # checked by the settings
        return DeepgramSTT(
            api_key=settings.deepgram_api_key.get_secret_value(),
            url=settings.deepgram_url,
            model=settings.deepgram_model,
            endpointing_ms=settings.deepgram_endpointing_ms,
            connect_timeout=settings.connect_timeout,
            finish_timeout=settings.stt_finish_timeout,
        )
    if settings.stt_provider == "whisper":
        whisper = WhisperSTT(
            settings.whisper_model_path,
            cpu_threads=settings.whisper_cpu_threads,
            phrases_as_hotwords=settings.whisper_phrase_hints,
        )
        whisper.load()  # at start: a broken model fails the worker's start, not the first call
        return whisper
    return PocketsphinxSTT()


@lru_cache(maxsize=8)
def _scenario(path: Path) -> Scenario:
    return load_scenario(path)


def make_dialog(settings: ProviderSettings, initial_vars: Mapping[str, Any]) -> Dialog:
    if settings.dialog_provider == "openai":
        return OpenAIChatDialog(
            base_url=settings.openai_base_url,
            api_key=settings.openai_key(),
            model=settings.openai_model,
            initial_vars=initial_vars,
            system_prompt=settings.openai_system_prompt,
            greeting=settings.openai_greeting,
            connect_timeout=settings.connect_timeout,
            first_token_timeout=settings.llm_first_token_timeout,
            token_timeout=settings.llm_token_timeout,
        )
    return ScenarioDialog(_scenario(settings.scenario_path), initial_vars)
