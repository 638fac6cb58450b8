"""The call a piece of code works for, kept in contextvars so every log line can carry it."""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)
_call_id: ContextVar[str | None] = ContextVar("call_id", default=None)


def current_trace_id() -> str | None:
    return _trace_id.get()


def current_call_id() -> str | None:
    return _call_id.get()


@contextlib.contextmanager
def bind_call(call_id: str | None, trace_id: str | None) -> Iterator[None]:
    """Within this block (and tasks created in it) logs carry this call's ids."""
    call_token = _call_id.set(call_id)
    trace_token = _trace_id.set(trace_id)
    try:
        yield
    finally:
        _trace_id.reset(trace_token)
        _call_id.reset(call_token)


def set_call(call_id: str | None, trace_id: str | None) -> None:
    """Bind for the rest of the current task (tasks get a copy of the context)."""
    _call_id.set(call_id)
    _trace_id.set(trace_id)
