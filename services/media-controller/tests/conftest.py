"""A real media stack (mediasoup service + worker + media-controller) per test module."""

from collections.abc import AsyncIterator, Iterator

import pytest
from voicebot_mediaclient import MediaClient

from tests.support.media import MediaStack, mediasoup_worker_bin, start_media_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaStack]:
    if mediasoup_worker_bin() is None:
        pytest.fail("the mediasoup worker is not built: run `make setup`")
    media = start_media_stack(tmp_path_factory.mktemp("media"))
    yield media
    media.stop()


@pytest.fixture
async def client(stack: MediaStack) -> AsyncIterator[MediaClient]:
    media_client = MediaClient(stack.controller_url, secret=stack.api_secret)
    yield media_client
    await media_client.aclose()
