"""The offline "brain": a scripted scenario (states, intents with example phrases or DTMF keys,
replies, a transfer to a human).

One instance per call. The replies are streamed sentence by sentence; the expected phrases of the
current state (plus the global ones) are the grammar the offline STT listens for."""

import logging
import string
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from call_api.providers.dialog.history import History
from call_api.providers.dialog.matching import best_intent, contains_phrase
from call_api.providers.dialog.scenario_file import Intent, Scenario
from call_api.providers.text import split_sentences

log = logging.getLogger(__name__)

MAX_VAR_CHARS = 80


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, variables: Mapping[str, str]) -> str:
    return string.Formatter().vformat(template, (), _Vars(variables))


def clean_vars(initial_vars: Mapping[str, Any]) -> dict[str, str]:
    """Caller-supplied values are spoken, so keep them short, single-line text."""
    cleaned = {}
    for key, value in initial_vars.items():
        if value is None or isinstance(value, dict | list):
            continue
        cleaned[str(key)] = " ".join(str(value).split())[:MAX_VAR_CHARS]
    return cleaned


class ScenarioDialog:
    def __init__(self, scenario: Scenario, initial_vars: Mapping[str, Any] | None = None) -> None:
        self.scenario = scenario
        self.vars: dict[str, str] = {**scenario.vars, **clean_vars(initial_vars or {})}
        self.state = scenario.states[scenario.start]
        self.history = History()
        self.reprompts = 0
        self._finished = False
        self._last_said = ""
        self._transfer: str | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    def expected_phrases(self) -> Sequence[str]:
        if self._finished:
            return ()
        intents = (*self.state.intents, *self.scenario.global_intents)
        return tuple(dict.fromkeys(phrase for intent in intents for phrase in intent.phrases))

    def record_heard(self, spoken_text: str) -> None:
        self.history.record_heard(spoken_text)

    # Sentences are yielded with a trailing space, like LLM tokens carry theirs: joined, they read
    # right, and text.sentences() passes each one on at once.
    async def greeting(self) -> AsyncIterator[str]:
        for sentence in self._say([self._enter(self.state.name)]):
            yield sentence + " "

    async def reply(self, caller_text: str) -> AsyncIterator[str]:
        for sentence in self._say(self._answer(caller_text)):
            yield sentence + " "

    async def reply_to_digit(self, digit: str) -> AsyncIterator[str]:
        for sentence in self._say(self._answer_digit(digit)):
            yield sentence + " "

    def take_transfer(self) -> str | None:
        target, self._transfer = self._transfer, None
        return target

    async def transfer_failed(self, reason: str) -> AsyncIterator[str]:
        """The scenario's `transfer_failed`, then the current state's question again."""
        log.info("transfer failed; the scenario goes on", extra={"state": self.state.name, "reason": reason})
        parts = [render(self.scenario.transfer_failed, self.vars), render(self.state.say, self.vars)]
        for sentence in self._say(parts):
            yield sentence + " "

    def _say(self, parts: list[str]) -> list[str]:
        text = " ".join(part for part in parts if part)
        if text:
            self._last_said = text
            self.history.add("bot", text)
        return split_sentences(text)

    def _enter(self, state_name: str) -> str:
        self.state = self.scenario.states[state_name]
        self.reprompts = 0
        if self.state.end:
            self._finished = True
        return render(self.state.say, self.vars)

    def _answer(self, caller_text: str) -> list[str]:
        if self._finished:
            return []
        self.history.add("caller", caller_text)
        match = best_intent(caller_text, (*self.state.intents, *self.scenario.global_intents))
        log.info(
            "scenario turn",
            extra={
                "state": self.state.name,
                "intent": match.intent.name if match else None,
                "score": round(match.score, 2) if match else None,
            },
        )
        if match is None:
            return [self._not_understood()]
        parts = self._apply(match.intent)
        # The same answer may also answer the next question ("wednesday morning"): chain while it does.
        used = {match.phrase}
        while not self._finished and match is not None and match.intent.next is not None:
            match = contains_phrase(caller_text, self.state.intents)
            if match is None or match.phrase in used:
                break
            used.add(match.phrase)
            parts = [part for part in parts[:-1]] + self._apply(match.intent)  # skip the skipped question
        return parts

    def _answer_digit(self, digit: str) -> list[str]:
        if self._finished:
            return []
        self.history.add("caller", f"(pressed {digit})")
        intents = (*self.state.intents, *self.scenario.global_intents)
        intent = next((intent for intent in intents if digit in intent.digits), None)
        log.info(
            "scenario key",
            extra={"state": self.state.name, "digit": digit, "intent": intent.name if intent else None},
        )
        if intent is None:
            return [self._not_understood()]
        return self._apply(intent)

    def _apply(self, intent: Intent) -> list[str]:
        if intent.action == "repeat":
            return [self._last_said]
        self.vars.update(intent.set)
        parts = [render(intent.say, self.vars)]
        if intent.transfer is not None:
            self._transfer = render(intent.transfer, self.vars)
        if intent.end:
            self._finished = True
        elif intent.next is not None:
            parts.append(self._enter(intent.next))
        else:
            self.reprompts = 0
        return parts

    def _not_understood(self) -> str:
        self.reprompts += 1
        if self.reprompts > self.scenario.max_reprompts:
            self._finished = True
            return render(self.scenario.give_up, self.vars)
        return render(self.state.reprompt or self.state.say, self.vars)
