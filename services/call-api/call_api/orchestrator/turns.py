"""The dialog's turns: one table of allowed transitions, checked on every move.

STARTING  → BOT_TURN (greeting) | ENDED
BOT_TURN  → USER_TURN (reply played or barge-in) | ENDED
USER_TURN → THINKING (end of utterance) | ENDED
THINKING  → BOT_TURN (the reply starts) | USER_TURN (nothing to say) | ENDED
ENDED     (final)
"""

import enum
import logging

log = logging.getLogger(__name__)


class Turn(enum.Enum):
    STARTING = "starting"
    BOT_TURN = "bot_turn"
    USER_TURN = "user_turn"
    THINKING = "thinking"
    ENDED = "ended"


ALLOWED: dict[Turn, frozenset[Turn]] = {
    Turn.STARTING: frozenset({Turn.BOT_TURN, Turn.ENDED}),
    Turn.BOT_TURN: frozenset({Turn.USER_TURN, Turn.ENDED}),
    Turn.USER_TURN: frozenset({Turn.THINKING, Turn.ENDED}),
    Turn.THINKING: frozenset({Turn.BOT_TURN, Turn.USER_TURN, Turn.ENDED}),
    Turn.ENDED: frozenset(),
}


class TurnError(RuntimeError):
    pass


class TurnMachine:
    def __init__(self) -> None:
        self.state = Turn.STARTING

    def to(self, new: Turn) -> None:
        if new is self.state:
            return
        if new not in ALLOWED[self.state]:
            raise TurnError(f"turn {self.state.value} → {new.value} is not allowed")
        log.debug("turn", extra={"from_turn": self.state.value, "to_turn": new.value})
        self.state = new
