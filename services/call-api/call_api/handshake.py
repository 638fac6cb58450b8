"""Before the upgrade: who is calling (the credential, docs/security.md) and whether this instance
takes calls at all. A refusal is an HTTP answer whose JSON body is `call_failed`: 401/403 for the
credential, 503 while draining (so that a gateway, e.g. nginx's proxy_next_upstream, can retry the
call on another instance, which it cannot do once the WebSocket is open)."""

import logging

from starlette.responses import Response
from starlette.websockets import WebSocket
from voicebot_protocol import CallFailed, CloseCode, FailureCode

from call_api import metrics
from call_api.auth import Authenticator, AuthRefusal, GatewayIdentity

log = logging.getLogger(__name__)


async def deny(websocket: WebSocket, status: int, refusal: CallFailed) -> None:
    try:
        await websocket.send_denial_response(
            Response(refusal.to_json(), status_code=status, media_type="application/json")
        )
    except RuntimeError:  # a server without the websocket.http.response extension
        close_code = CloseCode.TRY_AGAIN_LATER if status == 503 else CloseCode.POLICY_VIOLATION
        await websocket.close(code=close_code, reason=str(refusal.code))


async def admit(websocket: WebSocket, authenticator: Authenticator) -> GatewayIdentity | None:
    """The caller's identity, or None once the handshake was refused (the credential is never logged)."""
    try:
        return await authenticator.authenticate(websocket.headers, websocket.query_params)
    except AuthRefusal as refusal:
        metrics.auth_refused(refusal.code)
        client = websocket.client.host if websocket.client else None
        log.warning(
            "handshake refused", extra={"code": refusal.code, "why": refusal.reason, "client": client}
        )
        await deny(websocket, refusal.status, CallFailed(reason=refusal.reason, code=refusal.code))
        return None


async def deny_while_draining(websocket: WebSocket) -> None:
    log.info("handshake refused: draining")
    await deny(websocket, 503, CallFailed(reason="server is draining", code=FailureCode.SERVER_DRAINING))
