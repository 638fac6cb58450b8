"""`POST /api/v1/call-tokens`: a gateway key mints a short-lived, single-use call token.

Request: `Authorization: Bearer <gateway key>`, JSON body `{"call_id": "...", "ttl_seconds": 60}`
(both optional). Answer 201 `{"token": "...", "gateway_id": "...", "call_id": ..., "expires_at": <unix s>}`;
401 `unauthorized` without a valid gateway key (a call token cannot mint another), 400
`invalid_request` for a bad body."""

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from voicebot_protocol.validation import describe_validation_error

from call_api import metrics
from call_api.auth.errors import AuthRefusal
from call_api.auth.tokens import mint_call_token

log = logging.getLogger(__name__)
TOKENS_PATH = "/api/v1/call-tokens"
MAX_BODY_BYTES = 4096

router = APIRouter()


class MintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str | None = Field(default=None, min_length=1, max_length=128)
    ttl_seconds: int | None = Field(default=None, ge=1)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


@router.post(TOKENS_PATH)
async def mint(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    authenticator = request.app.state.authenticator
    try:
        identity = authenticator.authenticate_gateway_key(request.headers)
        if authenticator.token_secret is None:
            raise AuthRefusal(401, "unauthorized", "call tokens are not enabled (no token secret)")
    except AuthRefusal as refusal:
        metrics.auth_refused(refusal.code)
        log.warning(
            "call token refused",
            extra={
                "code": refusal.code,
                "why": refusal.reason,
                "client": request.client.host if request.client else None,
            },
        )
        return _error(refusal.status, refusal.code, refusal.reason)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, "invalid_request", "body too large")
    try:
        wanted = MintRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        return _error(400, "invalid_request", describe_validation_error(exc, whole="body"))
    ttl = min(
        wanted.ttl_seconds or settings.auth.call_token_ttl_seconds, settings.auth.call_token_max_ttl_seconds
    )
    token, claims = mint_call_token(
        authenticator.token_secret, identity.gateway_id, ttl_seconds=ttl, call_id=wanted.call_id
    )
    log.info("call token minted", extra={"gateway_id": identity.gateway_id, "ttl_seconds": ttl})
    return JSONResponse(
        {
            "token": token,
            "gateway_id": claims.gateway_id,
            "call_id": claims.call_id,
            "expires_at": claims.expires_at,
        },
        status_code=201,
    )
