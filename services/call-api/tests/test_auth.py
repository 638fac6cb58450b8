"""Gateway authentication: keys, call tokens, origins — the pure parts, then the handshake of a real
uvicorn server in the test's loop (refused before the upgrade with HTTP 401/403 and a JSON body)."""

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest
import websockets
from call_api.auth import (
    Authenticator,
    AuthRefusal,
    hash_key,
    mint_call_token,
    new_gateway_key,
    parse_gateway_keys,
    verify_call_token,
)
from call_api.auth.__main__ import main as auth_cli
from call_api.settings import AuthSettings, Settings
from fastapi import FastAPI
from pydantic import ValidationError

from tests.support.callapi import call_start, recv_json

SECRET = b"s" * 32
Serve = Callable[[Settings], contextlib.AbstractAsyncContextManager[FastAPI]]


def test_a_minted_token_verifies_and_a_tampered_one_does_not() -> None:
    token, claims = mint_call_token(SECRET, "gw1", ttl_seconds=60, call_id="c1")
    assert verify_call_token(SECRET, token) == claims
    head, body, sig = token.split(".")
    for bad in (f"{head}.{body}.{sig[:-2]}AA", f"{head}.{body}x.{sig}", "vbt1.e30.", "vbt2.a.b", "x" * 5000):
        with pytest.raises(AuthRefusal) as refused:
            verify_call_token(SECRET, bad)
        assert refused.value.status == 401 and refused.value.code == "unauthorized"
    with pytest.raises(AuthRefusal, match="signature"):
        verify_call_token(b"t" * 32, token)


def test_an_expired_token_is_refused() -> None:
    token, _ = mint_call_token(SECRET, "gw1", ttl_seconds=10, now=time.time() - 11)
    with pytest.raises(AuthRefusal, match="expired"):
        verify_call_token(SECRET, token)


def test_gateway_key_entries_parse_and_bad_ones_are_named() -> None:
    key = new_gateway_key()
    assert key.startswith("vbk_") and len(key) > 40
    keys = parse_gateway_keys(f"gw1:{hash_key(key)}, gw1:{'a' * 64},sip:{'b' * 64}")
    assert [k.gateway_id for k in keys] == ["gw1", "gw1", "sip"]
    for bad in ("gw1", f"gw 1:{'a' * 64}", "gw1:abc", f":{'a' * 64}"):
        with pytest.raises(ValueError, match="gateway key #1"):
            parse_gateway_keys(bad)
    with pytest.raises(ValidationError, match="gateway key"):
        AuthSettings(gateway_keys="nonsense")


async def test_authenticator_outcomes() -> None:
    key, old_key = new_gateway_key(), new_gateway_key()
    auth = Authenticator.create(
        keys=parse_gateway_keys(f"gw1:{hash_key(key)},gw1:{hash_key(old_key)}"),
        token_secret="s" * 32,
        allowed_origins=["https://phone.example.com"],
        required=True,
        nonce_store=None,
    )
    for credential in (key, old_key):  # both keys of a rotation are accepted
        identity = await auth.authenticate({"authorization": f"Bearer {credential}"}, {})
        assert (identity.gateway_id, identity.kind, identity.may_set_trace_id) == ("gw1", "gateway_key", True)
    assert (await auth.authenticate({}, {"token": key})).gateway_id == "gw1"
    token, _ = mint_call_token(SECRET, "gw1", ttl_seconds=60, call_id="c9")
    identity = await auth.authenticate({"origin": "https://phone.example.com/"}, {"token": token})
    assert (identity.kind, identity.may_set_trace_id, identity.call_id) == ("call_token", False, "c9")
    assert identity.scoped_call_id("c9") == "gw1~c9"
    refusals = [
        ({}, {}),
        ({"authorization": "Bearer wrong"}, {}),
        ({"authorization": f"Basic {key}"}, {}),
        ({}, {"token": token}),  # spent already
        ({"authorization": f"Bearer {key}", "origin": "https://evil.example"}, {}),
    ]
    got = []
    for headers, query in refusals:
        with pytest.raises(AuthRefusal) as refused:
            await auth.authenticate(headers, query)
        got.append((refused.value.status, refused.value.code))
    assert got == [(401, "unauthorized")] * 4 + [(403, "forbidden_origin")]


def test_cli_mints_a_token_the_server_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert auth_cli(["new-key", "--gateway", "pbx"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[0].removeprefix("GATEWAY_KEY=")
    entry = out[1].split(": ", 1)[1]
    monkeypatch.setenv("CALL_API_GATEWAY_KEYS", entry)
    monkeypatch.setenv("CALL_API_TOKEN_SECRET", SECRET.decode())
    assert auth_cli(["mint", "--key", key, "--call-id", "c1", "--ttl", "30"]) == 0
    claims = verify_call_token(SECRET, capsys.readouterr().out.strip())
    assert (claims.gateway_id, claims.call_id) == ("pbx", "c1")
    assert auth_cli(["mint", "--key", "vbk_unknown"]) == 2


# --- the handshake of a real server ---------------------------------------------------------

KEY = new_gateway_key()
OTHER_KEY = new_gateway_key()


@pytest.fixture
async def auth_server(echo_settings: Callable[..., Settings], serve: Serve) -> AsyncIterator[tuple[str, str]]:
    auth = AuthSettings(
        gateway_keys=f"gw1:{hash_key(KEY)},gw2:{hash_key(OTHER_KEY)}",
        token_secret=SECRET.decode(),
        allowed_origins="https://phone.example.com",
    )
    settings = echo_settings(auth=auth)
    port = settings.bind.rsplit(":", 1)[1]
    async with serve(settings):
        yield f"ws://127.0.0.1:{port}/api/v1/call", f"http://127.0.0.1:{port}"


async def refused(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    with pytest.raises(websockets.InvalidStatus) as denied:
        await websockets.connect(url, additional_headers=headers or {}, open_timeout=5, proxy=None)
    response = denied.value.response
    return response.status_code, json.loads(response.body)


async def accepted(url: str, call_id: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    async with websockets.connect(url, additional_headers=headers or {}, open_timeout=5, proxy=None) as ws:
        await ws.send(call_start(call_id))
        return await recv_json(ws, 5.0)


async def test_handshakes_without_a_valid_credential_are_refused_before_the_upgrade(
    auth_server: tuple[str, str],
) -> None:
    url, _ = auth_server
    expired, _ = mint_call_token(SECRET, "gw1", ttl_seconds=1, now=time.time() - 5)
    forged, _ = mint_call_token(b"x" * 32, "gw1", ttl_seconds=60)
    cases = [
        {},
        {"Authorization": "Bearer vbk_wrong"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
    ]
    for headers in cases:
        status, body = await refused(url, headers)
        assert status == 401, headers
        assert body["event"] == "call_failed" and body["code"] == "unauthorized"
    status, body = await refused(url, {"Authorization": f"Bearer {KEY}", "Origin": "https://evil.example"})
    assert (status, body["code"]) == (403, "forbidden_origin")


async def test_a_key_by_header_or_query_and_a_token_once(auth_server: tuple[str, str]) -> None:
    url, _ = auth_server
    assert (await accepted(url, "k1", {"Authorization": f"Bearer {KEY}"}))["event"] == "call_accepted"
    assert (await accepted(f"{url}?token={KEY}", "k2"))["event"] == "call_accepted"
    token, _ = mint_call_token(SECRET, "gw1", ttl_seconds=60, call_id="t1")
    assert (await accepted(f"{url}?token={token}", "t1", {"Origin": "https://phone.example.com"}))[
        "event"
    ] == "call_accepted"
    status, body = await refused(f"{url}?token={token}")
    assert (status, body["code"]) == (401, "unauthorized"), "a call token is single use"
    other, _ = mint_call_token(SECRET, "gw1", ttl_seconds=60, call_id="t2")
    failed = await accepted(url, "not-t2", {"Authorization": f"Bearer {other}"})
    assert (failed["event"], failed.get("code")) == ("call_failed", "unauthorized")


async def test_call_ids_live_in_their_gateways_namespace(auth_server: tuple[str, str]) -> None:
    url, _ = auth_server
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {KEY}"}, proxy=None
    ) as ws:
        await ws.send(call_start("same-id"))
        assert (await recv_json(ws, 5.0))["event"] == "call_accepted"
        other_gateway = await accepted(url, "same-id", {"Authorization": f"Bearer {OTHER_KEY}"})
        assert other_gateway["event"] == "call_accepted", "another gateway cannot squat gw1's call_id"
        same_gateway = await accepted(url, "same-id", {"Authorization": f"Bearer {KEY}"})
        assert (same_gateway["event"], same_gateway.get("code")) == ("call_failed", "duplicate_call")


async def test_only_a_gateway_key_chooses_the_trace_id(auth_server: tuple[str, str]) -> None:
    url, _ = auth_server
    chosen = "ab" * 16
    by_key = await accepted(url, "tr1", {"Authorization": f"Bearer {KEY}", "X-Trace-ID": chosen})
    assert by_key["payload"]["trace_id"] == chosen  # type: ignore[index]
    token, _ = mint_call_token(SECRET, "gw1", ttl_seconds=60)
    by_token = await accepted(url, "tr2", {"Authorization": f"Bearer {token}", "X-Trace-ID": chosen})
    assert by_token["payload"]["trace_id"] != chosen  # type: ignore[index]


async def test_the_token_endpoint_mints_for_a_gateway_key_only(auth_server: tuple[str, str]) -> None:
    import aiohttp

    url, http = auth_server
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{http}/api/v1/call-tokens",
            json={"call_id": "m1", "ttl_seconds": 30},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as response:
            assert response.status == 201
            minted = await response.json()
        assert minted["gateway_id"] == "gw1" and minted["expires_at"] <= time.time() + 31
        async with client.post(
            f"{http}/api/v1/call-tokens", headers={"Authorization": f"Bearer {minted['token']}"}
        ) as response:
            assert response.status == 401, "a call token cannot mint another"
        async with client.post(f"{http}/api/v1/call-tokens") as response:
            assert response.status == 401
            assert (await response.json())["code"] == "unauthorized"
        async with client.post(
            f"{http}/api/v1/call-tokens",
            data=b'{"ttl_seconds": -1}',
            headers={"Authorization": f"Bearer {KEY}"},
        ) as response:
            assert response.status == 400
    assert (await accepted(f"{url}?token={minted['token']}", "m1"))["event"] == "call_accepted"
