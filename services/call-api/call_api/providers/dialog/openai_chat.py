"""The LLM "brain": any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp),
streamed. One instance per call; it keeps the call's message history under a system prompt
rendered with the call's initial_vars.

Ending the call: the system prompt asks the model to put END_MARKER after its last words; the
marker is never spoken, and `finished` turns True.

Failures (connect, HTTP status, no first token in time, a gap between tokens, a stream that dies
before `[DONE]`) raise ProviderError("llm", ...). The caller's message of a failed turn is taken
back out of the history, so the orchestrator may simply retry reply()."""

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp

from call_api.providers.base import ProviderError
from call_api.providers.dialog.history import History
from call_api.providers.dialog.scenario import clean_vars, render
from call_api.providers.dialog.sse import DONE, SseDecoder, parse_event
from call_api.providers.http import raise_for_status, request_timeout, shared_session, within

log = logging.getLogger(__name__)

END_MARKER = "[END]"
DEFAULT_SYSTEM_PROMPT = (
    "You are a friendly phone assistant of {company}, speaking with {contact_name}. "
    "Your words are read aloud by a speech synthesizer: answer in one to three short sentences, "
    "plain text only, no lists, no markdown, no emojis. "
    f"When the conversation is over, say goodbye and end your message with {END_MARKER}."
)
DEFAULT_VARS = {"contact_name": "the caller", "company": "our company"}
GREETING_INSTRUCTION = "(The call has just been answered. Greet the caller.)"


class OpenAIChatDialog:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        initial_vars: Mapping[str, Any] | None = None,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        greeting: str = "",
        connect_timeout: float = 3.0,
        first_token_timeout: float = 5.0,
        token_timeout: float = 5.0,
        max_tokens: int = 200,
        temperature: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.vars = {**DEFAULT_VARS, **clean_vars(initial_vars or {})}
        self.system_prompt = _render_prompt(system_prompt, self.vars)
        self.greeting_template = greeting
        self.connect_timeout = connect_timeout
        self.first_token_timeout = first_token_timeout
        self.token_timeout = token_timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.history = History()
        self._session = session
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def expected_phrases(self) -> Sequence[str]:
        return ()  # free speech

    def record_heard(self, spoken_text: str) -> None:
        self.history.record_heard(spoken_text)

    def messages(self, extra_user: str | None = None) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system_prompt}]
        for turn in self.history.turns:
            messages.append({"role": "assistant" if turn.role == "bot" else "user", "content": turn.text})
        if extra_user:
            messages.append({"role": "user", "content": extra_user})
        return messages

    async def greeting(self) -> AsyncIterator[str]:
        if self.greeting_template:
            text = _render_prompt(self.greeting_template, self.vars)
            self.history.add("bot", text)
            yield text
            return
        async for chunk in self._bot_turn(self.messages(GREETING_INSTRUCTION)):
            yield chunk

    async def reply(self, caller_text: str) -> AsyncIterator[str]:
        if self._finished:
            return
        turns_before = len(self.history.turns)
        self.history.add("caller", caller_text)
        try:
            async for chunk in self._bot_turn(self.messages()):
                yield chunk
        except ProviderError:
            del self.history.turns[turns_before:]  # a retry starts from the same history
            raise

    async def _bot_turn(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        """Stream the answer, keep what was produced (even if cut off) as the bot's turn, hide END."""
        said: list[str] = []
        held = ""  # text that might be the start of END_MARKER
        try:
            async for token in self._stream(messages):
                text = held + token
                if END_MARKER in text:
                    self._finished = True
                    text = text.replace(END_MARKER, "")
                keep = _marker_prefix_length(text)
                text, held = (text[:-keep], text[-keep:]) if keep else (text, "")
                if text:
                    said.append(text)
                    yield text
            if held:
                said.append(held)
                yield held
        finally:
            self.history.add("bot", "".join(said))

    async def _stream(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        session = self._session or shared_session()
        started = time.perf_counter()
        request = session.post(
            self.url, json=body, headers=headers, timeout=request_timeout(self.connect_timeout)
        )
        response = await within(request, self.first_token_timeout, "llm", "chat completion request")
        async with response:
            await raise_for_status(response, "llm", self.token_timeout)
            decoder = SseDecoder()
            first = True
            done = False
            while not done:
                line = await within(
                    response.content.readline(),
                    self.first_token_timeout if first else self.token_timeout,
                    "llm",
                    "waiting for the first token" if first else "waiting for the next token",
                )
                data = decoder.line(line) if line else decoder.end()
                if data is not None:
                    event = _parse(data)
                    if event is DONE:
                        done = True
                        break
                    token, finished = _delta(event)  # type: ignore[arg-type]
                    if token:
                        if first:
                            log.info(
                                "llm first token",
                                extra={
                                    "ms": round((time.perf_counter() - started) * 1000, 1),
                                    "model": self.model,
                                },
                            )
                            first = False
                        yield token
                    if finished:
                        done = True  # [DONE] may follow; the answer is complete either way
                if not line:
                    break
            if not done:
                raise ProviderError("llm", "the stream ended before the answer was complete")


def _render_prompt(template: str, variables: Mapping[str, str]) -> str:
    """Prompts may hold literal braces (JSON examples): those are left as written."""
    try:
        return render(template, variables)
    except (ValueError, IndexError, KeyError, AttributeError):
        return template


def _parse(data: str) -> dict[str, Any] | object:
    try:
        return parse_event(data)
    except ValueError as error:
        raise ProviderError("llm", f"malformed stream event: {data[:200]!r}") from error


def _delta(event: dict[str, Any]) -> tuple[str, bool]:
    """(text of this chunk, whether the answer is finished)."""
    if "error" in event:
        raise ProviderError("llm", f"error in stream: {json.dumps(event['error'])[:300]}")
    choices = event.get("choices") or []
    if not choices:
        return "", False
    choice = choices[0]
    content = (choice.get("delta") or {}).get("content") or ""
    return content, choice.get("finish_reason") is not None


def _marker_prefix_length(text: str) -> int:
    """How many trailing characters of `text` could begin END_MARKER."""
    for size in range(min(len(END_MARKER) - 1, len(text)), 0, -1):
        if END_MARKER.startswith(text[-size:]):
            return size
    return 0
