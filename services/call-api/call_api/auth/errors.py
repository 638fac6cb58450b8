"""A refused handshake: the HTTP status and the documented code (docs/security.md)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class AuthRefusal(Exception):
    status: int  # 401 no/bad credential, 403 a credential that is not allowed here (origin, scope)
    code: str  # unauthorized | forbidden_origin
    reason: str  # why, for the log and the client (never the credential itself)

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


def unauthorized(reason: str) -> AuthRefusal:
    return AuthRefusal(401, "unauthorized", reason)


def forbidden_origin(origin: str) -> AuthRefusal:
    return AuthRefusal(403, "forbidden_origin", f"origin {origin[:100]!r} is not allowed")
