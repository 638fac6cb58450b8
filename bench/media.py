"""media.barge_in: the media plane alone (mediasoup service + media-controller), driven like
call-api drives it (MediaClient/MediaSession) with a gateway's RTP on loopback.

- barge-in: the caller's audible onset leaves the gateway (RTP) → the controller decides
  barge_in_detected (its `detected_ms`, same monotonic clock) while a playback runs;
- stop: onset → the last bot RTP packet at the gateway when the bench stops the playback at once;
- pacing: bot packet inter-arrival at the gateway's socket (kernel receive time) vs 20 ms."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from voicebot_callsim.events import Arrival, EventLog, collect
from voicebot_callsim.rtp import CallerVoice
from voicebot_mediaclient import MediaClient
from voicebot_protocol.media import BargeInDetected, CallerSpeech, PlaybackFinished, PlaybackStarted

from bench import audio
from bench.context import BenchContext
from bench.legs import open_legs
from bench.registry import scenario
from bench.results import Result
from bench.rtpprobe import gaps_ms
from bench.stack import media_stack

TRIALS = (60, 15)  # full, --quick
PACING_SECONDS = (20.0, 5.0)
CALLER_TEXT = "Wait, stop, I have a question."
BOT_TEXT = "Let me read you the full terms and conditions of your contract. "


@scenario("media.barge_in", "RTP onset → barge_in_detected at the media-controller; bot RTP pacing")
async def barge_in(ctx: BenchContext) -> Result:
    trials = ctx.options.pick(*TRIALS)
    result = Result(info={"trials": trials, "vad": "controller defaults (onset 3 frames)"})
    detect = result.figure("onset_to_barge_in_detected", goal="p95 ≤ 80 ms")
    vad_onset = result.figure("vad_onset_error")  # the controller's idea of the onset − ours
    last_packet = result.figure("onset_to_last_bot_packet")
    gap = result.figure("pacing_gap", goal="20 ms")
    deviation = result.figure("pacing_gap_deviation", goal="|gap−20| small")
    caller_packets = list(audio.packets(CALLER_TEXT))
    first_voiced, _ = audio.voiced_frames(audio.speech(CALLER_TEXT))
    bot_pcm = audio.speech(BOT_TEXT * 3)
    sources: dict[str, int] = {}
    with media_stack(ctx.scratch("media-barge")) as media:
        client = MediaClient(media.controller_url, secret=media.api_secret)
        session = await client.open_session(f"bench-barge-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
        log: EventLog[Arrival[Any]] = EventLog(Arrival)
        collector = asyncio.create_task(collect(session.events(), log, "the media events ended"))
        legs = await open_legs(session.signal)
        voice = CallerVoice(legs.sender)
        voice.start()
        started = time.perf_counter()
        try:
            # Pacing: one long playback fed like a TTS stream, the caller's silence flowing in.
            pace_s = ctx.options.pick(*PACING_SECONDS)
            since = len(log)
            await session.start_playback("pace", audio.RATE)
            pcm = bot_pcm * (int(pace_s * audio.RATE * 2 / len(bot_pcm)) + 1)
            pcm = pcm[: int(pace_s * audio.RATE) * 2]
            first = time.monotonic()
            await session.send_pcm(pcm)
            await session.end_playback("pace")
            await log.wait(_is(PlaybackFinished), pace_s + 10, since)
            await legs.probe.wait_quiet(0.2, 3)
            for g in gaps_ms(legs.probe.arrivals, since=first):
                gap.add(g)
                deviation.add(abs(g - 20))
            # Barge-in trials.
            rng = random.Random(7)
            for n in range(trials):
                stream = f"trial-{n}"
                since = len(log)
                await session.start_playback(stream, audio.RATE)
                await session.send_pcm(bot_pcm)
                await log.wait(_is(PlaybackStarted, stream), 3, since)
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                onset = await voice.say_packets(caller_packets) + first_voiced * 0.020
                try:
                    event = (await log.wait(_is(BargeInDetected), 3, since)).event
                except TimeoutError:
                    result.fail(f"trial {n}: no barge_in_detected within 3 s")
                    await session.stop_playback(stream)
                else:
                    await session.stop_playback(stream)
                    detect.add(event.detected_ms - onset * 1000)
                    vad_onset.add(event.onset_ms - onset * 1000)
                    sources[event.source] = sources.get(event.source, 0) + 1
                await log.wait(_is(PlaybackFinished, stream), 3, since)
                await legs.probe.wait_quiet(0.15, 3)
                if legs.probe.arrivals:
                    last_packet.add((legs.probe.arrivals[-1].at - onset) * 1000)
                # The caller finishes talking before the next trial (the VAD is back to silence).
                await log.wait(lambda a: isinstance(a.event, CallerSpeech) and not a.event.speaking, 5, since)
        finally:
            result.wall_s = time.perf_counter() - started
            await voice.stop()
            legs.close()
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
            await session.close()
            await client.aclose()
    result.info["barge_in_sources"] = sources
    result.info["pacing_seconds"] = pace_s
    return result


def _is(kind: type, stream_id: str | None = None) -> Callable[[Arrival[Any]], bool]:
    """A predicate: an event of this kind (for this stream)."""

    def matches(arrival: Arrival[Any]) -> bool:
        event = arrival.event
        return isinstance(event, kind) and stream_id in (None, getattr(event, "stream_id", None))

    return matches
