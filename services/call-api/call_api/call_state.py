"""The life of one call on /api/v1/call, as an enum whose every transition is checked."""

import enum


class CallState(enum.Enum):
    CONNECTED = "connected"  # WebSocket accepted, waiting for call_start
    STARTING = "starting"  # call_start received, call_id claimed, the factory is running
    ACTIVE = "active"  # call_accepted sent, the orchestrator runs
    ENDING = "ending"  # the server decided to end the call (failure, end of dialog, drain)
    CLOSED = "closed"  # socket closed and every resource released


_ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.CONNECTED: frozenset({CallState.STARTING, CallState.ENDING, CallState.CLOSED}),
    CallState.STARTING: frozenset({CallState.ACTIVE, CallState.ENDING, CallState.CLOSED}),
    CallState.ACTIVE: frozenset({CallState.ENDING, CallState.CLOSED}),
    CallState.ENDING: frozenset({CallState.CLOSED}),
    CallState.CLOSED: frozenset(),
}


class InvalidTransition(RuntimeError):
    pass


class CallLifecycle:
    """Holds the current state; `advance` refuses any transition not in the table."""

    def __init__(self) -> None:
        self.state = CallState.CONNECTED
        # Once call_accepted is out, the end of the call is announced with call_ended, not call_failed.
        self.was_accepted = False

    def advance(self, to: CallState) -> None:
        if to not in _ALLOWED[self.state]:
            raise InvalidTransition(f"call cannot go from {self.state.value} to {to.value}")
        self.state = to
        if to is CallState.ACTIVE:
            self.was_accepted = True

    @property
    def closed(self) -> bool:
        return self.state is CallState.CLOSED
