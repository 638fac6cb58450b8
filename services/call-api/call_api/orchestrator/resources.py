"""What every call of one worker process shares: providers, the media client, the cache, the filler.
Built once, on start-up or the first call."""

import asyncio
import logging
from dataclasses import dataclass

from voicebot_mediaclient import MediaClient

from call_api.cache import RedisCacheManager
from call_api.orchestrator.filler import Clip, load_filler
from call_api.providers.base import SpeechToText, TextToSpeech
from call_api.providers.config import ProviderSettings, make_stt, make_tts
from call_api.providers.http import close_shared_session
from call_api.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    providers: ProviderSettings
    tts: TextToSpeech
    stt: SpeechToText
    media: MediaClient
    cache: RedisCacheManager
    filler: Clip | None


_resources: Resources | None = None
_lock = asyncio.Lock()


async def get_resources() -> Resources:
    global _resources
    if _resources is not None:
        return _resources
    async with _lock:
        if _resources is None:
            settings = Settings()
            providers = ProviderSettings()
            tts = make_tts(providers)
            cache = RedisCacheManager(settings.cache.redis_url)
            _resources = Resources(
                settings=settings,
                providers=providers,
                tts=tts,
                stt=make_stt(providers),
                media=MediaClient(
                    settings.media.media_controller_url, secret=settings.media.media_controller_secret
                ),
                cache=cache,
                filler=await load_filler(tts, cache),
            )
            log.info(
                "orchestrator resources ready", extra={"tts": tts.name, "filler": bool(_resources.filler)}
            )
    return _resources


async def close_resources() -> None:
    global _resources
    if _resources is not None:
        await _resources.media.aclose()
        await _resources.cache.aclose()
        _resources = None
    await close_shared_session()
