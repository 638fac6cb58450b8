"""The media plane obeys its policy against a real controller and worker: no destination outside
the gateway networks, caps per call, comedia off, and a third party who sends RTP to a caller's
port first does not become the caller (the leg is connected to the gateway's own address)."""

import asyncio
from pathlib import Path

import pytest
from voicebot_callsim.rtp import RtpOpusSender, opus_packets
from voicebot_mediaclient import MediaClient, MediaRequestError
from voicebot_protocol.media import CallerSpeech

from tests.support.media import connect_gateway, read_audio, speech_wav

FORBIDDEN = ["127.0.0.2", "255.255.255.255", "224.0.0.1", "169.254.169.254", "0.0.0.0", "10.0.0.1", "::1"]


@pytest.mark.parametrize("ip", FORBIDDEN)
async def test_forbidden_destinations_are_refused_and_the_call_goes_on(client: MediaClient, ip: str) -> None:
    session = await client.open_session(f"dest-{ip.replace(':', '-')}", "c" * 32)
    try:
        transport = await session.signal("createPlainTransport", {"comedia": False})
        with pytest.raises(MediaRequestError) as refused:
            await session.signal(
                "connectPlainTransport", {"transport_id": transport["transport_id"], "ip": ip, "port": 40000}
            )
        assert refused.value.code == "forbidden_destination"
        # the refusal ends nothing: the same transport connects to the gateway's own address
        await session.signal(
            "connectPlainTransport",
            {"transport_id": transport["transport_id"], "ip": "127.0.0.1", "port": 40000},
        )
    finally:
        await session.close()


async def test_caps_and_comedia_are_refused_with_their_codes(client: MediaClient) -> None:
    session = await client.open_session("caps", "d" * 32)
    try:
        with pytest.raises(MediaRequestError) as refused:
            await session.signal("createPlainTransport", {"comedia": True})
        assert refused.value.code == "forbidden_destination"
        legs = await connect_gateway(session.signal)  # the gateway pattern fits the caps
        try:
            with pytest.raises(MediaRequestError) as refused:
                await session.signal("createPlainTransport", {"comedia": False})
            assert refused.value.code == "limit_exceeded"
            with pytest.raises(MediaRequestError) as refused:  # amplification: its own producer
                await session.signal(
                    "consume", {"transport_id": legs.bot_transport_id, "producer_id": legs.caller_producer_id}
                )
            assert refused.value.code == "limit_exceeded"
            await session.signal("getRouterRtpCapabilities", {})  # still alive
        finally:
            legs.close()
    finally:
        await session.close()


async def test_a_third_party_cannot_take_over_the_caller_leg(client: MediaClient, tmp_path: Path) -> None:
    session = await client.open_session("hijack", "e" * 32)
    legs = await connect_gateway(session.signal)
    intruder = RtpOpusSender(legs.sender.address[1], ssrc=legs.sender.ssrc, bind_host="127.0.0.3")
    speech = read_audio(speech_wav(tmp_path, "This is the intruder speaking loudly into the call."), 16000)
    events: list[object] = []
    caller_spoke = asyncio.Event()

    async def watch() -> None:
        async for event in session.events():
            events.append(event)
            if isinstance(event, CallerSpeech) and event.speaking:
                caller_spoke.set()

    watcher = asyncio.create_task(watch())
    try:
        await intruder.send_packets(opus_packets(speech, 16000))  # first, and loud: ignored
        await intruder.send_silence(0.6)
        assert not [e for e in events if isinstance(e, CallerSpeech)], "the intruder's audio reached the call"
        await legs.sender.send_packets(opus_packets(speech, 16000))  # the real caller still gets through
        await legs.sender.send_silence(0.6)
        async with asyncio.timeout(3):
            await caller_spoke.wait()
    finally:
        watcher.cancel()
        intruder.close()
        legs.close()
        await session.close()
