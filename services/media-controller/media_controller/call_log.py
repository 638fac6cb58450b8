"""A logger bound to one call: every line carries its call_id and trace_id, even from callbacks
that run outside the call's context (UDP, timers)."""

import logging
from collections.abc import MutableMapping
from typing import Any


class CallLogger(logging.LoggerAdapter[logging.Logger]):
    def __init__(self, logger: logging.Logger, call_id: str, trace_id: str | None) -> None:
        super().__init__(logger, {"call_id": call_id, "trace_id": trace_id})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs
