"""The call's audio codec, from `call_start.payload.codec` (absent: opus), for the orchestrator
factory: the factory's signature is the spec's (call_id, trace_id, initial_vars), so the endpoint
sets this context variable for the call's task before calling it."""

from contextvars import ContextVar

from voicebot_protocol.media import CallCodec

CALL_CODEC: ContextVar[CallCodec] = ContextVar("call_codec", default="opus")
