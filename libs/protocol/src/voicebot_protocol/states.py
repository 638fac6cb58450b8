"""One helper for every life-cycle enum whose transitions are checked (a call, a media session,
a playback, a service link): a table of allowed edges, and a holder that refuses any other move."""

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

S = TypeVar("S", bound=enum.Enum)


class InvalidTransition(RuntimeError):
    """A move the table does not allow: a bug in the caller, never a client's fault."""


class StateTable(Generic[S]):
    """The allowed edges of one life cycle; every state must have a row (terminal: empty)."""

    def __init__(self, name: str, edges: Mapping[S, Iterable[S]]) -> None:
        self.name = name
        self.edges: dict[S, frozenset[S]] = {state: frozenset(to) for state, to in edges.items()}
        states = set(self.edges)
        targets = {t for to in self.edges.values() for t in to}
        if not targets <= states:
            missing = ", ".join(sorted(str(t.value) for t in targets - states))
            raise ValueError(f"{name}: states without a row: {missing}")

    def allows(self, frm: S, to: S) -> bool:
        return to in self.edges[frm]

    def check(self, frm: S, to: S) -> None:
        if not self.allows(frm, to):
            raise InvalidTransition(f"{self.name} cannot go from {frm.value} to {to.value}")

    def markdown(self) -> str:
        """The table as docs show it: one row per state, its allowed next states."""
        rows = [
            f"| `{s.value}` | {', '.join(f'`{t.value}`' for t in sorted(to, key=_order(s))) or '—'} |"
            for s, to in self.edges.items()
        ]
        return "| state | may become |\n|---|---|\n" + "\n".join(rows)


def _order(state: enum.Enum) -> Callable[[enum.Enum], int]:
    members = list(type(state))
    return lambda s: members.index(s)


class StateHolder(Generic[S]):
    """The current state of one object; `advance` refuses any edge not in its table."""

    def __init__(self, table: StateTable[S], initial: S) -> None:
        self.table = table
        self.state = initial

    def advance(self, to: S) -> None:
        self.table.check(self.state, to)
        self.state = to

    def is_(self, *states: S) -> bool:
        return self.state in states
