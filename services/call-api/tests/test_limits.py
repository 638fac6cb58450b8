"""Calls end by themselves: the maximum duration ends an accepted call with call_ended max_duration."""

import contextlib
import time
from collections.abc import Callable

import websockets
from call_api.settings import AuthSettings, Settings
from fastapi import FastAPI

from tests.support.callapi import call_start, recv_json

Serve = Callable[[Settings], contextlib.AbstractAsyncContextManager[FastAPI]]


async def test_a_call_ends_at_its_maximum_duration(
    echo_settings: Callable[..., Settings], serve: Serve
) -> None:
    settings = echo_settings(auth=AuthSettings(auth_required=False), max_call_seconds=0.5)
    port = settings.bind.rsplit(":", 1)[1]
    async with serve(settings):
        async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/call", proxy=None) as ws:
            await ws.send(call_start("long-call"))
            assert (await recv_json(ws, 5.0))["event"] == "call_accepted"
            started = time.monotonic()
            while (event := await recv_json(ws, 5.0))["event"] != "call_ended":
                pass
            assert event["code"] == "max_duration"
            assert time.monotonic() - started >= 0.4, "not before the limit"
            await ws.wait_closed()
            assert ws.close_code == 1000
