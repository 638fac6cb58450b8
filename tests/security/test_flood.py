"""One hostile call floods the media plane: its client hammers the media-controller's signalling
API and blasts RTP at its caller port as fast as it can. Its excess is refused (rate_limited, 429)
and dropped before decoding (media_caller_rtp_dropped_total); another call's bot audio keeps
arriving, every packet of it. How its pacing fares is measured by `bench security.flood`."""

import asyncio
import re
import time
import urllib.request
import uuid

from voicebot_callsim.legs import GatewayLegs, connect_gateway
from voicebot_callsim.rtp import opus_packets
from voicebot_mediaclient import MediaClient, MediaRequestError, MediaSession

from tests.support.fullstack import FullStack

PLAYBACK_SECONDS = 4
RATE = 16000
FLOOD_PPS = 1000  # ≫ the 150/s (bursts of 300) a call's caller RTP may have
FLOOD_SECONDS = 3.0
SIGNAL_REQUESTS = 300  # back to back, a few at a time: ≫ the 20/s (bursts of 40) allowed


def controller_metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def signalling_flood(session: MediaSession) -> tuple[int, int]:
    """(answered, refused rate_limited) of SIGNAL_REQUESTS cheap requests, 4 in flight at a time."""
    outcomes: list[str] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            try:
                await session.signal("getRouterRtpCapabilities", {})
                outcomes.append("ok")
            except MediaRequestError as exc:
                outcomes.append(exc.code)

    await asyncio.gather(*(worker(SIGNAL_REQUESTS // 4) for _ in range(4)))
    return outcomes.count("ok"), outcomes.count("rate_limited")


async def rtp_flood(legs: GatewayLegs) -> int:
    """Valid caller packets from the leg's own address (what mediasoup forwards) at FLOOD_PPS for
    FLOOD_SECONDS, on a clock (a late round catches up, in bursts small enough for the socket
    buffers on the way); the number sent."""
    silence = opus_packets(bytes(960 * 2), 48000)[0]
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < FLOOD_SECONDS:
        due = min(int(elapsed * FLOOD_PPS) - sent, 50)
        if due > 0:
            await legs.sender.send_packets([silence] * due, realtime=False)
            sent += due
        await asyncio.sleep(0.005)
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

        (answered, refused), flooded = await asyncio.gather(
            signalling_flood(hostile), rtp_flood(hostile_legs)
        )

        assert refused > 0, "the signalling flood was never refused"
        assert answered + refused == SIGNAL_REQUESTS  # every request answered, one way or the other
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
