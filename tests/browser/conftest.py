from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from tests.browser.chromium import missing, start_chromium
from tests.browser.microphone import Microphone, make_microphone
from tests.browser.stack import BrowserStack, start_browser_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    running = start_browser_stack(tmp_path_factory.mktemp("browser"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Microphone:
    return make_microphone(tmp_path_factory.mktemp("microphone"))


@pytest.fixture(scope="module")
def browser(
    stack: BrowserStack, microphone: Microphone, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[webdriver.Chrome]:
    why = missing()
    if why:
        pytest.fail(why)
    driver = start_chromium(
        profile=Path(tmp_path_factory.mktemp("chromium-profile")),
        microphone_wav=microphone.wav,
        server_cert=stack.certs.cert,
    )
    yield driver
    driver.quit()
