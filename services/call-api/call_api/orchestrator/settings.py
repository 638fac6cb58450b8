"""The Orchestrator's knobs (environment, prefix CALL_API_)."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_API_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    media_controller_url: str = "http://127.0.0.1:8100"
    tts_check_timeout: float = 2.0
    provider_timeout: float = 5.0  # one TTS sentence, one STT finish, the first dialog chunk
    provider_attempts: int = 3  # failures in a row before the call ends (each plays the filler)
    provider_backoff: float = 0.2  # seconds, doubled per failure
    tts_cache_ttl: int = 24 * 3600
    media_ready_timeout: float = 10.0  # wait for the gateway's bot leg before greeting
    silence_timeout: float = 8.0  # no caller speech in USER_TURN → the dialog reprompts
    max_utterance_seconds: float = 15.0
    preroll_ms: int = 400  # caller audio kept before a barge-in, fed to STT with the new turn
    hangup_after_ms: int = 300  # after the last reply finished playing
