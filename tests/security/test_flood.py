"""One hostile call floods the media plane: its client hammers the media-controller's signalling
API and blasts RTP at its caller port as fast as it can. Its excess is refused (rate_limited, 429)
and dropped before decoding (media_caller_rtp_dropped_total); another call's bot audio keeps
arriving, every packet of it. How its pacing fares is measured by `bench security.flood`."""

import asyncio
import re
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable

from voicebot_callsim.legs import GatewayLegs, connect_gateway
from voicebot_callsim.rtp import opus_packets
from voicebot_mediaclient import MediaClient, MediaRequestError, MediaSession

from tests.support.fullstack import FullStack

PLAYBACK_SECONDS = 4
RATE = 16000
FLOOD_PPS = 1000  # ≫ the 150/s (bursts of 300) a call's caller RTP may have
FLOOD_SECONDS = 3.0
FLOOD_MAX_SECONDS = 30.0
SIGNAL_REQUESTS = 300  # back to back, 8 at a time: ≫ the 20/s (bursts of 40) allowed


def controller_metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def signalling_flood(session: MediaSession) -> list[str]:
    """The outcome ("ok" or the refusal's code) of cheap requests, 8 in flight at a time, back to
    back: at least SIGNAL_REQUESTS and until one is refused (at most FLOOD_MAX_SECONDS)."""
    outcomes: list[str] = []
    deadline = time.monotonic() + FLOOD_MAX_SECONDS

    async def worker() -> None:
        while time.monotonic() < deadline:
            if len(outcomes) >= SIGNAL_REQUESTS and "rate_limited" in outcomes:
                return
            try:
                await session.signal("getRouterRtpCapabilities", {})
                outcomes.append("ok")
            except MediaRequestError as exc:
                outcomes.append(exc.code)

    await asyncio.gather(*(worker() for _ in range(8)))
    return outcomes


async def rtp_flood(legs: GatewayLegs, dropped: Callable[[], Awaitable[bool]]) -> int:
    """Valid caller packets from the leg's own address (what mediasoup forwards) at FLOOD_PPS, on a
    clock (a late round catches up, in bursts small enough for the socket buffers on the way),
    for at least FLOOD_SECONDS and until the controller reports drops (at most FLOOD_MAX_SECONDS:
    a loaded controller counts late); the number sent."""
    silence = opus_packets(bytes(960 * 2), 48000)[0]
    start = time.monotonic()
    sent = 0
    checked = asyncio.create_task(asyncio.sleep(FLOOD_SECONDS))
    try:
        while (elapsed := time.monotonic() - start) < FLOOD_MAX_SECONDS:
            due = min(int(elapsed * FLOOD_PPS) - sent, 50)
            if due > 0:
                await legs.sender.send_packets([silence] * due, realtime=False)
                sent += due
            if checked.done():
                if checked.result():
                    return sent
                checked = asyncio.create_task(dropped())
            await asyncio.sleep(0.005)
    finally:
        checked.cancel()
    return sent


async def test_a_flood_is_refused_and_another_call_keeps_its_audio(guarded_stack: FullStack) -> None:
    media = guarded_stack.media
    client = MediaClient(media.controller_url, secret=media.api_secret)
    suffix = uuid.uuid4().hex[:8]
    victim = await client.open_session(f"victim-{suffix}", uuid.uuid4().hex)
    hostile = await client.open_session(f"hostile-{suffix}", uuid.uuid4().hex)
    opened: list[GatewayLegs] = []
    try:
        victim_legs = await connect_gateway(victim.signal)
        opened.append(victim_legs)
        hostile_legs = await connect_gateway(hostile.signal)
        opened.append(hostile_legs)
        dropped_before = controller_metric(media.controller_url, "media_caller_rtp_dropped_total")

        await victim.start_playback("victim-audio", RATE)
        await victim.send_pcm(bytes(PLAYBACK_SECONDS * RATE * 2))
        await victim.end_playback("victim-audio")
        receiver = victim_legs.receiver
        await receiver.wait_packets(1, 20)
        at_flood = len(receiver.packets)

        async def rtp_dropped() -> bool:
            metric = "media_caller_rtp_dropped_total"
            return await asyncio.to_thread(controller_metric, media.controller_url, metric) > dropped_before

        outcomes, flooded = await asyncio.gather(
            signalling_flood(hostile), rtp_flood(hostile_legs, rtp_dropped)
        )

        assert "rate_limited" in outcomes, "the signalling flood was never refused"
        assert set(outcomes) <= {"ok", "rate_limited"}  # refused as documented, nothing else
        dropped = controller_metric(media.controller_url, "media_caller_rtp_dropped_total") - dropped_before
        assert dropped > 0, f"none of {flooded} flood packets was dropped"
        # The victim's audio went on through the flood, to the last packet.
        expected = PLAYBACK_SECONDS * 50 - 2  # 20 ms packets (the codec's delay may hide one or two)
        await receiver.wait_packets(expected, 30)
        assert len(receiver.packets) > at_flood
    finally:
        for legs in opened:
            legs.close()
        await victim.close()
        await hostile.close()
        await client.aclose()
