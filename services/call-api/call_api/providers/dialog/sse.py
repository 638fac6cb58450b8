"""Server-sent events as OpenAI-compatible servers stream them: `data: {...}` lines, a blank line
after each event, `: comments`, and `data: [DONE]` at the end."""

import json
from typing import Any

DONE = object()


class SseDecoder:
    """Feed lines (bytes, with or without the newline); get whole events' data back."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def line(self, raw: bytes) -> str | None:
        """The data of the event this blank line completes, else None."""
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            data, self._data = "\n".join(self._data), []
            return data or None
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def end(self) -> str | None:
        """Data left when the stream ends without the final blank line."""
        data, self._data = "\n".join(self._data), []
        return data or None


def parse_event(data: str) -> dict[str, Any] | object:
    """A chat-completion chunk, or DONE. Raises ValueError on malformed JSON."""
    if data.strip() == "[DONE]":
        return DONE
    event = json.loads(data)
    if not isinstance(event, dict):
        raise ValueError("event is not an object")
    return event
