"""security.flood: one call's bot audio pacing before and during another call's flood of the media
plane (its client hammering the controller's signalling API, answered `rate_limited`, and blasting
RTP at its caller port, dropped above the per-call limit before decoding). Bot packet gaps come from
the kernel's receive times at the victim's gateway socket (bench/rtpprobe.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from voicebot_callsim.rtp import RtpOpusSender, opus_packets
from voicebot_mediaclient import MediaClient, MediaRequestError, MediaSession

from bench import audio
from bench.context import BenchContext
from bench.legs import ProbeLegs, open_legs
from bench.registry import scenario
from bench.results import Result
from bench.rtpprobe import gaps_ms
from bench.stack import media_stack

WINDOW_SECONDS = (10.0, 4.0)  # each of quiet and flood: full, --quick
FLOOD_PPS = 1000  # caller RTP of the hostile call (its limit: 150/s, bursts of 300)
SIGNAL_WORKERS = 4  # signalling requests in flight at a time, back to back


@scenario("security.flood", "another call's bot packet gaps, quiet vs. during a signalling + RTP flood")
async def flood(ctx: BenchContext) -> Result:
    window = ctx.options.pick(*WINDOW_SECONDS)
    result = Result(info={"window_s": window, "flood_pps": FLOOD_PPS, "signal_workers": SIGNAL_WORKERS})
    quiet = result.figure("bot_gap_quiet", goal="20 ms")
    flooded = result.figure("bot_gap_flood", goal="p99 ≈ quiet")
    started = time.perf_counter()
    with media_stack(ctx.scratch("security-flood")) as media:
        client = MediaClient(media.controller_url, secret=media.api_secret)
        victim = await client.open_session(f"bench-victim-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        hostile = await client.open_session(f"bench-hostile-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        legs: list[ProbeLegs] = []
        try:
            victim_legs = await open_legs(victim.signal)
            legs.append(victim_legs)
            hostile_legs = await open_legs(hostile.signal, caller_ssrc=0x5EED_0002)
            legs.append(hostile_legs)
            # One playback long enough for both windows, fed at once (the controller paces it).
            await victim.start_playback("victim", audio.RATE)
            await victim.send_pcm(bytes(int((2 * window + 3) * audio.RATE) * 2))
            await victim.end_playback("victim")
            probe = victim_legs.probe
            await asyncio.sleep(1.0)  # the playback is under way
            quiet_from = time.monotonic()
            await asyncio.sleep(window)
            flood_from = time.monotonic()
            refused, answered, sent = await _flood(hostile, hostile_legs.sender, window)
            flood_to = time.monotonic()
            arrivals = list(probe.arrivals)
            for gap in gaps_ms(arrivals, since=quiet_from, until=flood_from):
                quiet.add(gap)
            for gap in gaps_ms(arrivals, since=flood_from, until=flood_to):
                flooded.add(gap)
            result.set_value("signalling_rate_limited", refused, "requests")
            result.set_value("signalling_answered", answered, "requests")
            result.set_value("flood_rtp_packets_sent", sent, "packets")
        finally:
            result.wall_s = time.perf_counter() - started
            for leg in legs:
                leg.close()
            await victim.close()
            await hostile.close()
            await client.aclose()
    return result


async def _flood(session: MediaSession, sender: RtpOpusSender, seconds: float) -> tuple[int, int, int]:
    """Signalling and RTP flood for `seconds`: (requests refused rate_limited, answered, RTP sent)."""
    deadline = time.monotonic() + seconds
    counts = {"rate_limited": 0, "ok": 0}

    async def signalling() -> None:
        while time.monotonic() < deadline:
            try:
                await session.signal("getRouterRtpCapabilities", {})
                counts["ok"] += 1
            except MediaRequestError as exc:
                counts[exc.code] = counts.get(exc.code, 0) + 1

    async def rtp() -> int:
        silence = opus_packets(bytes(960 * 2), 48000)[0]
        start, sent = time.monotonic(), 0
        while (now := time.monotonic()) < deadline:
            due = min(int((now - start) * FLOOD_PPS) - sent, 50)  # small bursts: no socket overflow
            if due > 0:
                await sender.send_packets([silence] * due, realtime=False)
                sent += due
            await asyncio.sleep(0.005)
        return sent

    tasks = [asyncio.create_task(signalling()) for _ in range(SIGNAL_WORKERS)]
    try:
        sent = await rtp()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    return counts["rate_limited"], counts["ok"], sent
