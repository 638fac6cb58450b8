"""The media plane's capacity: past MEDIA_CONTROLLER_MAX_SESSIONS calls a new call fails at once
with call_failed capacity (close 4503) instead of starving the calls already up, and a
call is accepted again as soon as one ends."""

import uuid

from voicebot_callsim import raw
from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_protocol import CloseCode, FailureCode

from tests.security.conftest import MAX_SESSIONS
from tests.support.fullstack import FullStack


async def test_past_the_session_cap_a_call_fails_fast_then_recovers(guarded_stack: FullStack) -> None:
    media = guarded_stack.media
    client = MediaClient(media.controller_url, secret=media.api_secret)
    held: list[MediaSession] = []
    try:
        for n in range(MAX_SESSIONS):  # other calls hold every session the controller allows
            held.append(await client.open_session(f"holder-{n}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex))
        ws = await raw.connect(guarded_stack.call_api.ws_url)
        await ws.send(raw.call_start(f"one-too-many-{uuid.uuid4().hex[:6]}"))
        refused = await raw.recv_json(ws, 30)
        assert (refused["event"], refused["code"]) == ("call_failed", FailureCode.CAPACITY)
        assert (await raw.expect_close(ws, 10))[0] == CloseCode.ORCHESTRATOR_FAILED

        await held.pop().close()
        ws = await raw.connect(guarded_stack.call_api.ws_url)
        await ws.send(raw.call_start(f"after-{uuid.uuid4().hex[:6]}"))
        assert (await raw.recv_json(ws, 30))["event"] == "call_accepted"
        await ws.send(raw.CALL_TERMINATED)
        await raw.expect_close(ws, 10)
    finally:
        for session in held:
            await session.close()
        await client.aclose()
