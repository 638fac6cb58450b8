"""One Settings object with nested sections, read from the same flat CALL_API_* variables."""

import pytest
from call_api.settings import Settings


def test_every_section_reads_its_flat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "CALL_API_BIND": "127.0.0.1:9000",
        "CALL_API_REDIS_URL": "redis://127.0.0.1:7000/1",
        "CALL_API_TTS_CACHE_TTL": "60",
        "CALL_API_MEDIA_CONTROLLER_URL": "http://127.0.0.1:9100",
        "CALL_API_MEDIA_READY_TIMEOUT": "2.5",
        "CALL_API_PROVIDER_TIMEOUT": "1.5",
        "CALL_API_PROVIDER_ATTEMPTS": "5",
        "CALL_API_PREROLL_MS": "200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.bind == "127.0.0.1:9000"
    assert (settings.cache.redis_url, settings.cache.tts_cache_ttl) == ("redis://127.0.0.1:7000/1", 60)
    assert (settings.media.media_controller_url, settings.media.media_ready_timeout) == (
        "http://127.0.0.1:9100",
        2.5,
    )
    orchestrator = settings.orchestrator
    assert (orchestrator.provider_timeout, orchestrator.provider_attempts, orchestrator.preroll_ms) == (
        1.5,
        5,
        200,
    )


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CALL_API_REDIS_URL", "CALL_API_MEDIA_READY_TIMEOUT", "CALL_API_PROVIDER_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.cache.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.media.media_ready_timeout == 10.0
    assert settings.orchestrator.provider_attempts == 3
