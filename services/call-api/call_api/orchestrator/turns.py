"""The dialog's turns: one table of the transitions that happen, checked on every move.

STARTING  → BOT_TURN (the greeting) | ENDED (the call ends before it)
BOT_TURN  → USER_TURN (the reply played, or a barge-in stopped it) | ENDED
USER_TURN → THINKING (end of the caller's utterance, or silence) | ENDED
THINKING  → BOT_TURN (the reply starts) | ENDED
ENDED     (final)
"""

import enum
import logging

from voicebot_protocol.states import StateHolder, StateTable

log = logging.getLogger(__name__)


class Turn(enum.Enum):
    STARTING = "starting"
    BOT_TURN = "bot_turn"
    USER_TURN = "user_turn"
    THINKING = "thinking"
    ENDED = "ended"


TURNS = StateTable(
    "turn",
    {
        Turn.STARTING: {Turn.BOT_TURN, Turn.ENDED},
        Turn.BOT_TURN: {Turn.USER_TURN, Turn.ENDED},
        Turn.USER_TURN: {Turn.THINKING, Turn.ENDED},
        Turn.THINKING: {Turn.BOT_TURN, Turn.ENDED},
        Turn.ENDED: set(),
    },
)


class Turns(StateHolder[Turn]):
    def __init__(self) -> None:
        super().__init__(TURNS, Turn.STARTING)

    def advance(self, to: Turn) -> None:
        log.debug("turn", extra={"from_turn": self.state.value, "to_turn": to.value})
        super().advance(to)
