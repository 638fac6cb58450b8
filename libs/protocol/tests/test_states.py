import enum

import pytest
from voicebot_protocol.states import InvalidTransition, StateHolder, StateTable


class Light(enum.Enum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


TABLE = StateTable("light", {Light.OFF: {Light.ON, Light.BROKEN}, Light.ON: {Light.OFF}, Light.BROKEN: set()})


def test_allowed_moves_pass_and_others_are_refused() -> None:
    light = StateHolder(TABLE, Light.OFF)
    light.advance(Light.ON)
    light.advance(Light.OFF)
    light.advance(Light.BROKEN)
    with pytest.raises(InvalidTransition, match="light cannot go from broken to on"):
        light.advance(Light.ON)
    assert light.is_(Light.BROKEN)


def test_a_target_without_a_row_is_a_definition_error() -> None:
    with pytest.raises(ValueError, match="without a row: broken"):
        StateTable("light", {Light.OFF: {Light.BROKEN}})


def test_markdown_lists_every_state_in_enum_order() -> None:
    text = TABLE.markdown()
    assert "| `off` | `on`, `broken` |" in text
    assert "| `broken` | — |" in text
