"""CallEnd: how any task of a call ends it. The first one raised decides the call's result."""

import logging

from voicebot_protocol import EndReason

from call_api.orchestrator.base import CallResult

log = logging.getLogger(__name__)


class CallEnd(Exception):
    """Raised inside the call's tasks to end it. result None: the client ended the call."""

    def __init__(self, result: CallResult | None) -> None:
        super().__init__(result.message if result else "the client ended the call")
        self.result = result


def completed() -> CallEnd:
    return CallEnd(CallResult(EndReason.DIALOG_COMPLETED, "dialog completed"))


def media_failed(reason: str) -> CallEnd:
    log.critical("media failure: the call ends now", extra={"reason": reason})
    return CallEnd(CallResult(EndReason.MEDIA_FAILURE, f"media failure: {reason}"))


def providers_failed(provider: str) -> CallEnd:
    return CallEnd(CallResult(EndReason.PROVIDER_FAILURE, f"{provider} unavailable"))
