"""A scenario YAML file, loaded and checked (states exist, placeholders are known) at start-up so a
broken scenario fails the deployment, not a call. The format is described in docs/providers.md."""

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "appointment.yaml"


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Intent:
    name: str
    phrases: tuple[str, ...]
    say: str = ""
    next: str | None = None
    end: bool = False
    set: dict[str, str] = field(default_factory=dict)
    action: str | None = None  # "repeat"
    digits: tuple[str, ...] = ()  # DTMF keys that choose this intent
    transfer: str | None = None  # after `say`, hand the call to this target (e.g. "sip:agent@pbx")


@dataclass(frozen=True)
class State:
    name: str
    say: str
    reprompt: str = ""
    intents: tuple[Intent, ...] = ()
    end: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    start: str
    states: dict[str, State]
    global_intents: tuple[Intent, ...] = ()
    vars: dict[str, str] = field(default_factory=dict)
    max_reprompts: int = 2
    give_up: str = "Sorry, I could not understand you. Goodbye."
    transfer_failed: str = "Sorry, I could not put you through right now."


DTMF_KEYS = "0123456789*#ABCD"


def _digits(name: str, raw: Any) -> tuple[str, ...]:
    digits = tuple(str(d) for d in (raw or []))  # YAML reads an unquoted 1 as a number
    if not isinstance(raw or [], list) or any(len(d) != 1 or d not in DTMF_KEYS for d in digits):
        raise ScenarioError(f"intent {name}: digits must be a list of DTMF keys ({DTMF_KEYS})")
    return digits


def _transfer(name: str, raw: dict[str, Any]) -> str | None:
    transfer = raw.get("transfer")
    if transfer is None:
        return None
    target = transfer.get("target") if isinstance(transfer, dict) else None
    if not isinstance(target, str) or not target.startswith(("sip:", "sips:", "tel:", "{")):
        raise ScenarioError(f"intent {name}: transfer needs a target URI (sip:, sips: or tel:)")
    if raw.get("end") or raw.get("action") or raw.get("next"):
        raise ScenarioError(f"intent {name}: a transfer has no next state, end or action (it stays put)")
    return target


def _intent(name: str, raw: dict[str, Any]) -> Intent:
    phrases = raw.get("phrases") or []
    digits = _digits(name, raw.get("digits"))
    if (
        not isinstance(phrases, list)
        or not all(isinstance(p, str) for p in phrases)
        or not (phrases or digits)
    ):
        raise ScenarioError(f"intent {name}: phrases must be a list of strings, and phrases or digits given")
    action = raw.get("action")
    if action not in (None, "repeat"):
        raise ScenarioError(f"intent {name}: unknown action {action!r}")
    return Intent(
        name=name,
        phrases=tuple(phrases),
        say=str(raw.get("say", "")),
        next=raw.get("next"),
        end=bool(raw.get("end", False)),
        set={str(k): str(v) for k, v in (raw.get("set") or {}).items()},
        action=action,
        digits=digits,
        transfer=_transfer(name, raw),
    )


def _intents(raw: dict[str, Any] | None) -> tuple[Intent, ...]:
    return tuple(_intent(name, body or {}) for name, body in (raw or {}).items())


def _placeholders(template: str) -> set[str]:
    return {field_name for _, field_name, _, _ in string.Formatter().parse(template) if field_name}


def parse_scenario(raw: dict[str, Any]) -> Scenario:
    if not isinstance(raw, dict) or not isinstance(raw.get("states"), dict):
        raise ScenarioError("a scenario needs a `states` mapping")
    states = {
        name: State(
            name=name,
            say=str(body.get("say", "")),
            reprompt=str(body.get("reprompt", "")),
            intents=_intents(body.get("intents")),
            end=bool(body.get("end", False)),
        )
        for name, body in raw["states"].items()
    }
    scenario = Scenario(
        name=str(raw.get("name", "scenario")),
        start=str(raw.get("start", next(iter(states), ""))),
        states=states,
        global_intents=_intents(raw.get("global_intents")),
        vars={str(k): str(v) for k, v in (raw.get("vars") or {}).items()},
        max_reprompts=int(raw.get("max_reprompts", 2)),
        give_up=str(raw.get("give_up", Scenario.give_up)),
        transfer_failed=str(raw.get("transfer_failed", Scenario.transfer_failed)),
    )
    _check(scenario)
    return scenario


def _check(scenario: Scenario) -> None:
    if scenario.start not in scenario.states:
        raise ScenarioError(f"start state {scenario.start!r} does not exist")
    every_intent = [i for s in scenario.states.values() for i in s.intents] + list(scenario.global_intents)
    known_vars = set(scenario.vars) | {name for intent in every_intent for name in intent.set}
    templates = [scenario.give_up, scenario.transfer_failed] + [intent.say for intent in every_intent]
    templates += [intent.transfer for intent in every_intent if intent.transfer]
    for state in scenario.states.values():
        templates += [state.say, state.reprompt]
        if not state.end and not state.intents and not scenario.global_intents:
            raise ScenarioError(f"state {state.name}: no intents and not an end state")
    for intent in every_intent:
        if intent.next is not None and intent.next not in scenario.states:
            raise ScenarioError(f"intent {intent.name}: next state {intent.next!r} does not exist")
    for template in templates:
        try:
            unknown = _placeholders(template) - known_vars
        except ValueError as error:
            raise ScenarioError(f"bad template {template!r}: {error}") from error
        if unknown:
            raise ScenarioError(f"template {template!r} uses unknown variables {sorted(unknown)}")


def load_scenario(path: Path | str = DEFAULT_SCENARIO) -> Scenario:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ScenarioError(f"cannot read scenario {path}: {error}") from error
    return parse_scenario(raw)
