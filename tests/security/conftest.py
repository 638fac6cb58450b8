from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fullstack import FullStack, start_full_stack

CALLER_SILENCE_SECONDS = 3
MAX_SESSIONS = 3  # the controller's cap of calls (the RTP port range is finite)


@pytest.fixture(scope="session")
def guarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    """The whole back end with a short caller-silence limit and a small session cap (every other
    setting at its default)."""
    running = start_full_stack(
        Path(tmp_path_factory.mktemp("security")),
        call_api_env={"CALL_API_CALLER_SILENCE_SECONDS": str(CALLER_SILENCE_SECONDS)},
        controller_env={"MEDIA_CONTROLLER_MAX_SESSIONS": str(MAX_SESSIONS)},
    )
    yield running
    running.stop()
