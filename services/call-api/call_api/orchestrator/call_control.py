"""Call control the client takes part in: the caller's DTMF keys (RFC 4733 in the RTP, detected by
the media-controller, or SIP INFO from the gateway: the same thing to the dialog) and the transfer
to a human (server → client `transfer`, client → server `transfer_result`). docs/orchestrator.md,
"Call control"."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Literal

from voicebot_protocol.client import TransferResultPayload

from call_api.providers.base import Dialog, DigitDialog, TransferDialog

log = logging.getLogger(__name__)

MAX_QUEUED_KEYS = 32
KeySource = Literal["rtp", "sip_info"]


class Keys:
    """The caller's key presses, in order, until the dialog takes them (one per turn)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(MAX_QUEUED_KEYS)

    def pressed(self, digit: str, source: KeySource) -> None:
        try:
            self._queue.put_nowait(digit)
        except asyncio.QueueFull:
            log.warning("dropping a DTMF key: the dialog is not taking them", extra={"digit": digit})
            return
        log.info("dtmf key", extra={"digit": digit, "source": source})

    def take(self) -> str | None:
        return None if self._queue.empty() else self._queue.get_nowait()

    async def next(self) -> str:
        return await self._queue.get()


class TransferOutcome:
    """The one transfer in flight: `transfer_result` resolves it; a result with none pending is
    logged and ignored."""

    def __init__(self) -> None:
        self._pending: asyncio.Future[TransferResultPayload] | None = None

    def begin(self) -> asyncio.Future[TransferResultPayload]:
        self._pending = asyncio.get_running_loop().create_future()
        return self._pending

    def reported(self, result: TransferResultPayload) -> None:
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            log.warning("transfer_result without a transfer in progress", extra={"ok": result.ok})
            return
        pending.set_result(result)


def reply_to_digit(dialog: Dialog, digit: str) -> Callable[[], AsyncIterator[str]]:
    """The dialog's answer to a key: its own `reply_to_digit`, else the digit as caller text."""
    if isinstance(dialog, DigitDialog):
        return lambda: dialog.reply_to_digit(digit)
    return lambda: dialog.reply(digit)


def transfer_requested(dialog: Dialog) -> str | None:
    return dialog.take_transfer() if isinstance(dialog, TransferDialog) else None


def failure_reason(result: TransferResultPayload | None) -> str:
    if result is None:
        return "no transfer_result in time"
    detail = f" {result.status}" if result.status is not None else ""
    return f"transfer failed{detail}: {result.reason}" if result.reason else f"transfer failed{detail}"
