"""The life of one call on /api/v1/call, as an enum whose every transition is checked."""

import enum

from voicebot_protocol.states import InvalidTransition, StateHolder, StateTable

__all__ = ["CALL_STATES", "CallLifecycle", "CallState", "InvalidTransition"]


class CallState(enum.Enum):
    CONNECTED = "connected"  # WebSocket accepted, waiting for call_start
    STARTING = "starting"  # call_start received, call_id claimed, the factory is running
    ACTIVE = "active"  # call_accepted sent, the orchestrator runs
    ENDING = "ending"  # the server decided to end the call (failure, end of dialog, drain)
    CLOSED = "closed"  # socket closed and every resource released


CALL_STATES = StateTable(
    "call",
    {
        CallState.CONNECTED: {CallState.STARTING, CallState.ENDING, CallState.CLOSED},
        CallState.STARTING: {CallState.ACTIVE, CallState.ENDING, CallState.CLOSED},
        CallState.ACTIVE: {CallState.ENDING, CallState.CLOSED},
        CallState.ENDING: {CallState.CLOSED},
        CallState.CLOSED: set(),
    },
)


class CallLifecycle(StateHolder[CallState]):
    """The current state; `advance` refuses any transition not in CALL_STATES."""

    def __init__(self) -> None:
        super().__init__(CALL_STATES, CallState.CONNECTED)
        # Once call_accepted is out, the end of the call is announced with call_ended, not call_failed.
        self.was_accepted = False

    def advance(self, to: CallState) -> None:
        super().advance(to)
        if to is CallState.ACTIVE:
            self.was_accepted = True

    @property
    def closed(self) -> bool:
        return self.state is CallState.CLOSED
