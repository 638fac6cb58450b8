from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fullstack import FullStack, start_full_stack


# One stack for the e2e modules (each call has its own ids): a stack start is ~25 s of `make test`.
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullStack]:
    running = start_full_stack(Path(tmp_path_factory.mktemp("e2e")))
    yield running
    running.stop()
