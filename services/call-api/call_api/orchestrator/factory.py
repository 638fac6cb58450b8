"""create_orchestrator_instance: the spec's factory. It fails fast, with the spec's reasons:
TTS unreachable → "TTS unavailable"; the media plane unreachable → "media unavailable"."""

import asyncio
import logging
from typing import Any

from voicebot_mediaclient import MediaRequestError, MediaUnavailable
from voicebot_protocol import FailureCode

from call_api.auth.identity import media_call_id
from call_api.call_codec import CALL_CODEC
from call_api.orchestrator.base import OrchestratorStartError
from call_api.orchestrator.orchestrator import Orchestrator
from call_api.orchestrator.resources import close_resources, get_resources
from call_api.providers.config import make_dialog

log = logging.getLogger(__name__)


async def create_orchestrator_instance(
    call_id: str, trace_id: str, initial_vars: dict[str, Any]
) -> Orchestrator:
    res = await get_resources()
    try:
        async with asyncio.timeout(res.settings.orchestrator.tts_check_timeout):
            await res.tts.check()
    except Exception as exc:
        log.error("TTS check failed at call start", extra={"error": repr(exc)})
        raise OrchestratorStartError("TTS unavailable", FailureCode.TTS_UNAVAILABLE) from exc
    dialog = make_dialog(res.providers, initial_vars)
    try:
        media = await res.media.open_session(media_call_id.get() or call_id, trace_id, CALL_CODEC.get())
    except (MediaUnavailable, MediaRequestError) as exc:
        log.critical("media plane unavailable at call start", extra={"error": str(exc)})
        raise OrchestratorStartError("media unavailable", FailureCode.MEDIA_UNAVAILABLE) from exc
    return Orchestrator(call_id, trace_id, dialog, media, res)


async def startup() -> None:
    """Called once per worker at start-up: providers, media client, and the filler ready."""
    await get_resources()


async def shutdown() -> None:
    await close_resources()


create_orchestrator_instance.startup = startup  # type: ignore[attr-defined]
create_orchestrator_instance.shutdown = shutdown  # type: ignore[attr-defined]
