"""The client's WebSocket as a call uses it: sending never raises (a message to a gone client is
dropped), receiving returns None once the client is gone, closing happens once."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket
from voicebot_protocol import CloseCode, ServerMessage

log = logging.getLogger(__name__)


class ClientSocket:
    def __init__(self, websocket: WebSocket, send_timeout: float, on_stalled: Callable[[], None]) -> None:
        self.websocket = websocket
        self.send_timeout = send_timeout
        self.on_stalled = on_stalled  # the client stopped reading: the call must end
        self.gone = False
        self.send_failed = False
        self.closed = False
        self.disconnect_code: int | None = None

    async def send(self, message: ServerMessage) -> None:
        """websocket_out: never raises; a message to a gone client is dropped."""
        if self.gone or self.send_failed or self.closed:
            return
        try:
            async with asyncio.timeout(self.send_timeout):
                await self.websocket.send_text(message.to_json())
        except TimeoutError:
            log.warning("client stopped reading; ending the call")
            self.gone = True
            self.on_stalled()
        except Exception:
            # The socket is closing (the client left, or uvicorn closed it, e.g. 1009); its
            # disconnect message is queued, so receiving still ends cleanly with its close code.
            log.debug("send to a closed socket; message dropped", exc_info=True)
            self.send_failed = True

    async def receive(self) -> str | bytes | None:
        """The next text or binary frame; None once the client is gone."""
        if self.gone:
            return None
        try:
            message = await self.websocket.receive()
        except Exception:
            self.gone = True
            return None
        if message["type"] == "websocket.disconnect":
            self.gone = True
            self.disconnect_code = message.get("code")
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def close(self, code: CloseCode, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.gone or self.send_failed:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.send_timeout):
                await self.websocket.close(int(code), reason)
