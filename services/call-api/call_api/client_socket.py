"""The client's WebSocket as a call uses it: sending never raises and never blocks (a message to a
gone client is dropped), receiving returns None once the client is gone, closing happens once.

Messages wait in a per-call send queue of at most `queue_bytes`, written by one task in order; a
sender that finds it full waits for room (a burst of messages just waits for the writer). A
client that stops reading cannot make it grow: when the queue stays full, or one message waits,
for `send_timeout`, the queue is dropped and `on_stalled` ends the call (close 4413
client_not_reading, docs/protocol.md). Only that call's tasks ever wait. Below the queue, the
socket's buffers are bounded by the transport (uvicorn pauses writing past its high-water mark)
and the kernel."""

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket
from voicebot_protocol import CloseCode, ServerMessage

log = logging.getLogger(__name__)

CLOSE_FRAME_WAIT = 10.0  # seconds the close frame may wait for a client that does not read


class ClientSocket:
    def __init__(
        self,
        websocket: WebSocket,
        send_timeout: float,
        on_stalled: Callable[[str], None],
        *,
        queue_bytes: int = 256 * 1024,
    ) -> None:
        self.websocket = websocket
        self.send_timeout = send_timeout
        self.queue_bytes = queue_bytes
        self.on_stalled = on_stalled  # the client stopped reading: the call must end (with why)
        self.gone = False
        self.send_failed = False
        self.stalled = False
        self.closed = False
        self.disconnect_code: int | None = None
        self.queued_bytes = 0  # of the messages not yet taken by the socket (the one being sent too)
        self._queue: collections.deque[tuple[str, int]] = collections.deque()
        self._queued = asyncio.Event()
        self._flushed = asyncio.Event()
        self._flushed.set()
        self._room = asyncio.Event()
        self._order = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None

    async def send(self, message: ServerMessage) -> None:
        """websocket_out: queues the message (waiting, up to send_timeout, while the queue is
        full); dropped once the client is gone or stopped reading."""
        if self._done():
            return
        text = message.to_json()
        size = len(text.encode())
        async with self._order:  # a sender waiting for room keeps its place: messages stay in order
            if not await self._room_for(size):
                return
            self._queue.append((text, size))
            self.queued_bytes += size
            self._flushed.clear()
            self._queued.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="client-socket-writer")

    async def _room_for(self, size: int) -> bool:
        """Wait until the message fits (one alone always does); False if the call must end."""
        try:
            async with asyncio.timeout(self.send_timeout):
                while self._queue and self.queued_bytes + size > self.queue_bytes and not self._done():
                    self._room.clear()
                    await self._room.wait()
        except TimeoutError:
            self._stall(f"{self.queued_bytes} bytes unsent for {self.send_timeout:g} s")
            return False
        return not self._done()

    def _done(self) -> bool:
        return self.gone or self.send_failed or self.stalled or self.closed

    async def _write(self) -> None:
        while True:
            if not self._queue:
                self._flushed.set()
                self._queued.clear()
                await self._queued.wait()
                continue
            text, size = self._queue[0]
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self.websocket.send_text(text)
            except TimeoutError:
                self._stall(f"a send waited {self.send_timeout:g} s", from_writer=True)
                return
            except Exception:
                # The socket is closing (the client left, or uvicorn closed it, e.g. 1009); its
                # disconnect message is queued, so receiving still ends cleanly with its close code.
                log.debug("send to a closed socket; messages dropped", exc_info=True)
                self.send_failed = True
                self._drop()
                return
            self._queue.popleft()
            self.queued_bytes -= size
            self._room.set()

    def _stall(self, why: str, *, from_writer: bool = False) -> None:
        if self.stalled:
            return
        log.warning("client stopped reading; ending the call", extra={"why": why})
        self.stalled = True
        self._drop()
        if not from_writer and self._writer is not None:
            self._writer.cancel()  # it waits for the socket to drain: a frame is written whole or not
        self.on_stalled(why)

    def _drop(self) -> None:
        self._queue.clear()
        self.queued_bytes = 0
        self._flushed.set()
        self._room.set()  # waiting senders see the end

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
        """After the queued messages (given send_timeout to go out), the close frame."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.send_timeout):
                await self._flushed.wait()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self.gone or self.send_failed:
            return
        # A stalled client gets the close frame if it reads again in time.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(self.send_timeout, CLOSE_FRAME_WAIT)):
                await self.websocket.close(int(code), reason)
