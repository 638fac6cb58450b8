from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fullstack import FullStack, start_full_stack

CALLER_SILENCE_SECONDS = 3


@pytest.fixture(scope="session")
def guarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    """The whole back end with a short caller-silence limit (every other setting at its default)."""
    running = start_full_stack(
        Path(tmp_path_factory.mktemp("security")),
        call_api_env={"CALL_API_CALLER_SILENCE_SECONDS": str(CALLER_SILENCE_SECONDS)},
    )
    yield running
    running.stop()
