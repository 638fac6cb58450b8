"""ASGI middleware: every HTTP response and every WebSocket handshake names the instance that served it."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

INSTANCE_HEADER = b"x-call-api-instance"

_RESPONSE_STARTS = frozenset({"http.response.start", "websocket.accept", "websocket.http.response.start"})


class InstanceHeaderMiddleware:
    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.header = (INSTANCE_HEADER, instance.encode("latin-1", errors="replace"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] in _RESPONSE_STARTS:
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_header)
