"""What a credential proves: which gateway is calling, and what it may choose itself."""

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

# The name of the running call's media session: its call_id within its gateway's namespace. Set
# by the call's session before the factory runs (the factory's signature is the spec's, so the
# name travels with the call's context); a factory without it uses the call_id itself.
media_call_id: ContextVar[str | None] = ContextVar("media_call_id", default=None)


@dataclass(frozen=True)
class GatewayIdentity:
    gateway_id: str
    kind: Literal["gateway_key", "call_token", "anonymous"]
    # Only a gateway key may choose the call's trace id (X-Trace-ID): a browser's call token may not.
    may_set_trace_id: bool
    # A call token bound to one call_id admits only that call_start.
    call_id: str | None = None

    def scoped_call_id(self, call_id: str) -> str:
        """The call's name inside call-api and the media plane: another gateway's call of the same
        call_id is another call, and cannot squat or reach this one."""
        return call_id if self.kind == "anonymous" else f"{self.gateway_id}~{call_id}"


ANONYMOUS = GatewayIdentity(gateway_id="anonymous", kind="anonymous", may_set_trace_id=True)
