"""The one WebSocket endpoint of the service: /api/v1/call."""

from fastapi import APIRouter, WebSocket

from call_api.session import CallSession

CALL_PATH = "/api/v1/call"

router = APIRouter()


@router.websocket(CALL_PATH)
async def call_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    session = CallSession(
        websocket,
        settings=state.settings,
        registry=state.registry,
        factory=state.factory,
        authenticator=state.authenticator,
    )
    await session.serve()
