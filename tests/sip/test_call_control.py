"""Call control both ways with SIPp as the trunk: the bot's BYE, REFER for `transfer`, SIP INFO
DTMF → `dtmf`. call-api runs tests/sip/orchestrators.py (call control only, no media plane)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sip.orchestrators import TRANSFER_TARGET
from tests.sip.support import SipGateway, run_sipp, start_sip_gateway
from tests.support.callapi import CallApiServer
from tests.support.nginx import NginxGateway, make_certs
from tests.support.procs import REPO_ROOT, wait_until
from tests.support.redis import RedisServer

pytestmark = pytest.mark.stack
OPUS = {"pt": "100", "codec": "opus/48000/2", "rate": "48000", "ssrc": "287454020", "caller_name": "Ann"}


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CallApiServer, SipGateway]]:
    base = Path(tmp_path_factory.mktemp("sip-control"))
    certs = make_certs(base / "certs")
    redis = RedisServer(base / "logs").start()
    api = CallApiServer(
        log_dir=base / "logs",
        redis_url=redis.url,
        factory="tests.sip.orchestrators:create_call_control_orchestrator",
        workers=1,
        env={"PYTHONPATH": str(REPO_ROOT)},
    ).start(timeout=60)
    nginx = NginxGateway(base / "nginx", certs, [f"127.0.0.1:{api.port}"]).start()
    gateway = start_sip_gateway(base / "logs", nginx, certs)
    yield api, gateway
    gateway.stop()
    nginx.stop()
    api.stop()
    redis.stop()


def test_the_bot_hangs_up_with_bye(control: tuple[CallApiServer, SipGateway], tmp_path: Path) -> None:
    _, gateway = control
    mark = gateway.mark()
    run_sipp(tmp_path, "bot_bye", gateway.sip_port, keys={**OPUS, "customer_id": "hangup"}).check()
    assert [r["code"] for r in gateway.wait_records("bot_bye", since=mark)] == ["dialog_completed"]
    wait_until(lambda: gateway.health()["calls"] == 0, 10, "the gateway to forget the call")


def test_transfer_sends_refer_with_the_target(
    control: tuple[CallApiServer, SipGateway], tmp_path: Path
) -> None:
    api, gateway = control
    result = run_sipp(
        tmp_path, "transfer", gateway.sip_port, keys={**OPUS, "customer_id": "transfer"}
    ).check()
    refer = result.messages[result.messages.index("REFER sip:") :]
    assert re.search(rf"^Refer-To: <?{re.escape(TRANSFER_TARGET)}>?\s*$", refer, re.M | re.I), refer[:800]
    # SIPp's 202 reached the server as transfer_result ok, which ended the call as transferred.
    wait_until(
        lambda: any(r.get("code") == "transferred" for r in gateway.records("bot_bye")),
        10,
        "call_ended transferred",
    )
    wait_until(
        lambda: any(r.get("status") == 202 for r in api.log_records("transfer accepted")),
        10,
        "call-api's log of the accepted transfer",
    )


def test_sip_info_dtmf_reaches_the_orchestrator(
    control: tuple[CallApiServer, SipGateway], tmp_path: Path
) -> None:
    api, gateway = control
    mark = gateway.mark()
    run_sipp(
        tmp_path, "info_dtmf", gateway.sip_port, keys={**OPUS, "customer_id": "dtmf", "digit": "5"}
    ).check()
    assert [r["digit"] for r in gateway.wait_records("dtmf", since=mark)] == ["5"]
    wait_until(lambda: any(api.log_records("dtmf received")), 10, "call-api's log of the digit")
    assert [r["digit"] for r in api.log_records("dtmf received")] == ["5"]
