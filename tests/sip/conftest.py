from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.support import SipGateway, start_sip_gateway
from tests.support.fullstack import FullStack, start_full_stack
from tests.support.nginx import Certs, NginxGateway, make_certs


@pytest.fixture(scope="package")
def sip_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FullStack, NginxGateway, SipGateway]]:
    """The whole stack with the real Orchestrator, nginx in front, the SIP gateway in front of that;
    one for the package (a start costs ~30 s of a loaded machine): every test ends its calls."""
    base = Path(tmp_path_factory.mktemp("sip"))
    certs: Certs = make_certs(base / "certs")
    stack = start_full_stack(base)
    nginx = NginxGateway(base / "nginx", certs, [f"127.0.0.1:{stack.call_api.port}"]).start()
    gateway = start_sip_gateway(base / "logs", nginx, certs)
    yield stack, nginx, gateway
    gateway.stop()
    nginx.stop()
    stack.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sip-load", action="store_true", default=False, help="SIP suite: run the 20-concurrent-calls test"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sip_load: many concurrent SIP calls, run only with --sip-load")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # 20 calls with Piper, STT and the whole stack take both cores for minutes: `make test-sip-load`.
    if config.getoption("--sip-load", default=False):
        return
    skip = pytest.mark.skip(reason="SIP load test: run with --sip-load (make test-sip-load)")
    for item in items:
        if "sip_load" in item.keywords:
            item.add_marker(skip)
