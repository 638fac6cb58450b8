"""The spec's provider fallback, in one place: a failed TTS / dialog / STT step plays the filler,
is logged, and is retried after a backoff; N failures in a row end the call."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from call_api import metrics
from call_api.orchestrator.call_end import providers_failed
from call_api.providers.base import ProviderError
from call_api.settings import OrchestratorSettings

log = logging.getLogger(__name__)


class ProviderFailures:
    """Failures in a row; `succeeded()` (a reply played, an utterance recognised) resets them."""

    def __init__(self, settings: OrchestratorSettings, play_filler: Callable[[], Awaitable[None]]) -> None:
        self.settings = settings
        self.play_filler = play_filler
        self.in_a_row = 0

    def succeeded(self) -> None:
        self.in_a_row = 0

    async def failed(self, exc: ProviderError | TimeoutError) -> None:
        """Returns when the step may be retried; raises CallEnd(provider_failure) after the last."""
        self.in_a_row += 1
        provider = exc.provider if isinstance(exc, ProviderError) else "provider (timeout)"
        metrics.PROVIDER_ERRORS.labels(metrics.provider_label(provider)).inc()
        log.error(
            "provider failed",
            extra={"provider": provider, "error": str(exc), "failures": self.in_a_row},
        )
        await self.play_filler()
        if self.in_a_row >= self.settings.provider_attempts:
            raise providers_failed(provider)
        metrics.PROVIDER_RETRIES.labels(metrics.provider_label(provider)).inc()
        await asyncio.sleep(self.settings.provider_backoff * 2 ** (self.in_a_row - 1))
