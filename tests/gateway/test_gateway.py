"""/api/v1/call through the real nginx gateway (TLS, round-robin over two real gunicorn call-api
instances, the trace id), with the gateway shared by every test of this module."""

import asyncio
import re
import secrets
import ssl
import urllib.error
import urllib.request
import uuid
from collections import Counter
from email.message import Message

import pytest
import websockets
from voicebot_callsim.raw import (
    CALL_TERMINATED,
    TRACE_ID,
    call_start,
    connect,
    expect_close,
    instance_of,
    mediasoup_exchange,
    recv_json,
    start_call,
    trace_header,
)

from tests.gateway.conftest import StartGateway
from tests.support.callapi import CallApiServer
from tests.support.nginx import NginxGateway


def new_call_id() -> str:
    return f"gw-{uuid.uuid4().hex[:12]}"


async def test_wss_call_end_to_end(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, apis = gateway
    call_id = new_call_id()
    ws = await connect(nginx.wss_url, ssl=nginx.ssl_context())
    instance = instance_of(ws)
    assert instance in {api.instance for api in apis}
    await ws.send(call_start(call_id, contact_name="Ann"))
    accepted = await recv_json(ws)
    assert accepted["event"] == "call_accepted"
    assert accepted["payload"]["status"] == "ok"
    assert accepted["payload"]["trace_id"] == trace_header(ws)

    answer = await mediasoup_exchange(ws, 1, "ping")
    assert answer["payload"]["request_id"] == 1

    await ws.send(CALL_TERMINATED)
    assert (await expect_close(ws))[0] == 1000

    record = nginx.wait_access_record(trace_header(ws))
    served_by = next(api for api in apis if api.instance == instance)
    assert record["status"] == 101
    assert record["uri"] == "/api/v1/call"
    assert record["upstream_addr"] == f"127.0.0.1:{served_by.port}"
    assert record["call_api_instance"] == instance
    assert record["ssl_protocol"] in ("TLSv1.2", "TLSv1.3")


async def test_twenty_calls_spread_over_both_instances(
    gateway: tuple[NginxGateway, list[CallApiServer]],
) -> None:
    nginx, apis = gateway
    context = nginx.ssl_context()
    calls = await asyncio.gather(*(start_call(nginx.wss_url, new_call_id(), ssl=context) for _ in range(20)))
    served = Counter(instance_of(ws) for ws, _ in calls)
    for ws, _ in calls:
        await ws.send(CALL_TERMINATED)
    assert [code for code, _ in await asyncio.gather(*(expect_close(ws) for ws, _ in calls))] == [1000] * 20
    assert set(served) == {api.instance for api in apis}
    # Round-robin: an even split, give or take the odd health check of the other tests.
    assert min(served.values()) >= 8, served


async def test_missing_trace_id_is_generated_and_reaches_the_call_api(
    gateway: tuple[NginxGateway, list[CallApiServer]],
) -> None:
    nginx, apis = gateway
    call_id = new_call_id()
    ws, accepted = await start_call(nginx.wss_url, call_id, ssl=nginx.ssl_context())
    trace_id = trace_header(ws)
    assert re.fullmatch(TRACE_ID, trace_id)
    assert accepted["payload"]["trace_id"] == trace_id
    api = next(api for api in apis if api.instance == instance_of(ws))
    record = await api.log_record("call accepted", call_id)
    assert record["trace_id"] == trace_id
    await ws.send(CALL_TERMINATED)
    await expect_close(ws)
    assert nginx.wait_access_record(trace_id)["call_api_instance"] == api.instance


async def test_valid_trace_id_is_kept(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, apis = gateway
    sent = secrets.token_hex(16)
    call_id = new_call_id()
    ws, accepted = await start_call(nginx.wss_url, call_id, {"X-Trace-ID": sent}, ssl=nginx.ssl_context())
    assert trace_header(ws) == sent
    assert accepted["payload"]["trace_id"] == sent
    api = next(api for api in apis if api.instance == instance_of(ws))
    assert (await api.log_record("call accepted", call_id))["trace_id"] == sent
    await ws.send(CALL_TERMINATED)
    await expect_close(ws)


async def test_trace_id_of_a_traceparent_is_kept(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, _ = gateway
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    ws, accepted = await start_call(nginx.wss_url, new_call_id(), headers, ssl=nginx.ssl_context())
    assert trace_header(ws) == trace_id
    assert accepted["payload"]["trace_id"] == trace_id
    await ws.close()


@pytest.mark.parametrize(
    "malformed",
    [
        "not-a-trace-id",
        secrets.token_hex(16).upper(),  # not lowercase
        secrets.token_hex(15),  # too short
        secrets.token_hex(17),  # too long
        "0" * 32,  # the W3C invalid trace id
        str(uuid.uuid4()),  # a UUID with dashes
    ],
)
async def test_malformed_trace_id_is_replaced(
    gateway: tuple[NginxGateway, list[CallApiServer]], malformed: str
) -> None:
    nginx, _ = gateway
    ws, accepted = await start_call(
        nginx.wss_url, new_call_id(), {"X-Trace-ID": malformed}, ssl=nginx.ssl_context()
    )
    replaced = trace_header(ws)
    assert re.fullmatch(TRACE_ID, replaced) and replaced != malformed.lower()
    assert accepted["payload"]["trace_id"] == replaced
    await ws.close()


def https_get(nginx: NginxGateway, path: str) -> tuple[int, Message, bytes]:
    handler = urllib.request.HTTPSHandler(context=nginx.ssl_context())
    opener = urllib.request.build_opener(handler, urllib.request.ProxyHandler({}))
    try:
        with opener.open(nginx.https_url + path, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_health_endpoints_pass_through(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, apis = gateway
    for path in ("/healthz", "/readyz"):
        status, headers, body = https_get(nginx, path)
        assert status == 200, body
        assert headers["X-Call-Api-Instance"] in {api.instance for api in apis}
        assert re.fullmatch(TRACE_ID, headers["X-Trace-ID"])
        assert "Strict-Transport-Security" not in headers  # local form: no HSTS pinned on localhost
    assert https_get(nginx, "/nginx-healthz")[0] == 200
    assert https_get(nginx, "/somewhere-else")[0] == 404


def test_plain_http_redirects_to_https(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, _ = gateway

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect(), urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"http://127.0.0.1:{nginx.http_port}/api/v1/call?x=1", timeout=5)
    assert redirect.value.code == 308
    assert redirect.value.headers["Location"] == f"https://127.0.0.1:{nginx.https_port}/api/v1/call?x=1"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_tls_below_1_2_is_refused(gateway: tuple[NginxGateway, list[CallApiServer]]) -> None:
    nginx, _ = gateway
    old = nginx.ssl_context()
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT@SECLEVEL=0")  # the client would offer TLS 1.0/1.1; the server must refuse
    with pytest.raises(ssl.SSLError):
        await connect(nginx.wss_url, ssl=old)
    tls12 = nginx.ssl_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    ws = await connect(nginx.wss_url, ssl=tls12)
    await ws.close()


async def test_client_must_trust_the_gateway_certificate(
    gateway: tuple[NginxGateway, list[CallApiServer]],
) -> None:
    nginx, _ = gateway
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(nginx.wss_url, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # trusts no CA


async def test_connection_limit_per_client_ip(start_gateway: StartGateway) -> None:
    nginx, _ = start_gateway(nginx_overrides={"conn_per_ip": 3})
    context = nginx.ssl_context()
    held = [await connect(nginx.wss_url, ssl=context) for _ in range(3)]
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(nginx.wss_url, ssl=context)
    assert refused.value.response.status_code == 429
    for ws in held:
        await ws.close()


def test_request_rate_limit_per_client_ip(start_gateway: StartGateway) -> None:
    nginx, _ = start_gateway(nginx_overrides={"req_per_second": 1, "req_burst": 2})
    answers = [https_get(nginx, "/healthz") for _ in range(3)]
    # Then requests until one is refused: a loaded machine may take a second (a new token) over one
    # of them, so a fixed count could pass them all; 30 requests that slow mean nginx limits nothing.
    while len(answers) < 30 and answers[-1][0] != 429:
        answers.append(https_get(nginx, "/healthz"))
    statuses = [status for status, _, _ in answers]
    assert statuses[:3] == [200, 200, 200]  # the one allowed now plus the burst of 2
    assert 429 in statuses[3:]
    for status, headers, _ in answers:
        if status == 429:
            assert re.fullmatch(TRACE_ID, headers["X-Trace-ID"])  # even on a refusal
