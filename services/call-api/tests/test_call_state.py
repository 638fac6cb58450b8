import pytest
from call_api.call_state import CallLifecycle, CallState, InvalidTransition


def test_the_normal_life_of_a_call() -> None:
    life = CallLifecycle()
    for state in (CallState.STARTING, CallState.ACTIVE, CallState.ENDING, CallState.CLOSED):
        life.advance(state)
    assert life.was_accepted and life.closed


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), CallState.ACTIVE),  # accepted without call_start
        ((CallState.STARTING, CallState.ACTIVE), CallState.STARTING),  # a second call_start
        ((CallState.ENDING,), CallState.ACTIVE),  # refused, then accepted
        ((CallState.CLOSED,), CallState.ENDING),  # anything after closed
    ],
)
def test_every_other_transition_is_refused(path: tuple[CallState, ...], bad: CallState) -> None:
    life = CallLifecycle()
    for state in path:
        life.advance(state)
    with pytest.raises(InvalidTransition):
        life.advance(bad)


def test_refused_before_acceptance_was_not_accepted() -> None:
    life = CallLifecycle()
    life.advance(CallState.STARTING)
    life.advance(CallState.ENDING)
    life.advance(CallState.CLOSED)
    assert not life.was_accepted
