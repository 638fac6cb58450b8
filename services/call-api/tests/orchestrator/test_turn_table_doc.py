"""docs/orchestrator.md shows the turn table as the code has it."""

from pathlib import Path

from call_api.orchestrator.turns import TURNS, Turn

DOC = Path(__file__).resolve().parents[4] / "docs" / "orchestrator.md"


def test_the_documented_turn_table_is_the_code_s() -> None:
    assert TURNS.markdown() in DOC.read_text()


def test_every_turn_may_end_the_call() -> None:
    assert all(TURNS.allows(turn, Turn.ENDED) for turn in Turn if turn is not Turn.ENDED)
