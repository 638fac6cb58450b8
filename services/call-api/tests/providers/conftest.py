"""Fixtures for the provider tests: the clinic scenario, and the fake cloud servers of
tests/support/fake_providers.py (OpenAI chat-completions SSE and audio/speech, Deepgram live WS,
with switchable failure modes), each in the test's own event loop."""

from collections.abc import AsyncIterator, Callable

import pytest
from call_api.providers.dialog.scenario import ScenarioDialog
from call_api.providers.dialog.scenario_file import load_scenario
from call_api.providers.http import close_shared_session

from tests.support.fake_providers import API_KEY, FakeDeepgram, FakeOpenAI

__all__ = ["API_KEY", "FakeDeepgram", "FakeOpenAI"]


@pytest.fixture
def clinic_dialog() -> Callable[..., ScenarioDialog]:
    scenario = load_scenario()

    def make(**initial_vars: str) -> ScenarioDialog:
        return ScenarioDialog(scenario, initial_vars)

    return make


@pytest.fixture(autouse=True)
async def _close_http_session() -> AsyncIterator[None]:
    yield
    await close_shared_session()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


@pytest.fixture
async def fake_deepgram() -> AsyncIterator[FakeDeepgram]:
    server = await FakeDeepgram().start()
    yield server
    await server.stop()
