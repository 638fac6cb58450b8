"""The JSON answers of the token endpoints (docs/security.md): a minted call token, and a refusal
`{"code", "message"}` with its documented code."""

from fastapi.responses import JSONResponse

from call_api.auth.tokens import CallTokenClaims


def token_answer(token: str, claims: CallTokenClaims, headers: dict[str, str] | None = None) -> JSONResponse:
    """201 `{"token", "gateway_id", "call_id", "expires_at"}`."""
    return JSONResponse(
        {
            "token": token,
            "gateway_id": claims.gateway_id,
            "call_id": claims.call_id,
            "expires_at": claims.expires_at,
        },
        status_code=201,
        headers=headers,
    )


def refusal_answer(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)
