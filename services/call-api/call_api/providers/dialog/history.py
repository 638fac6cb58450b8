"""What was said in a call, turn by turn; the last bot turn can be cut to what the caller heard."""

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["bot", "caller"]


@dataclass
class Turn:
    role: Role
    text: str


@dataclass
class History:
    turns: list[Turn] = field(default_factory=list)
    max_turns: int = 200  # a call that goes on forever must not grow memory forever

    def add(self, role: Role, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self.turns and self.turns[-1].role == role:
            self.turns[-1].text = f"{self.turns[-1].text} {text}"
        else:
            self.turns.append(Turn(role, text))
        del self.turns[: max(0, len(self.turns) - self.max_turns)]

    def record_heard(self, spoken_text: str) -> None:
        """Replace the last bot turn by the part the caller heard (nothing heard: drop it)."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].role == "bot":
                if spoken_text.strip():
                    self.turns[index].text = spoken_text.strip()
                else:
                    del self.turns[index]
                return

    def last(self, role: Role) -> str:
        return next((turn.text for turn in reversed(self.turns) if turn.role == role), "")
