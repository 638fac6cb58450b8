"""The bot's leg against the real service: bot_leg_ready once the gateway consumes the bot
producer (delivered when the events WebSocket attaches later), and an interruptible playback the
controller stops itself on barge-in, measured against the playback_stop round trip."""

import asyncio
import os
import statistics
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_protocol.media import (
    BargeInDetected,
    BotLegReady,
    CallerSpeech,
    MediaEvent,
    PlaybackEnd,
    PlaybackFinished,
    PlaybackStart,
    PlaybackStarted,
    SignalRequest,
    media_event_adapter,
)

from tests.support.media import GatewayLegs, MediaStack, connect_gateway, read_audio, speech_wav

TRIALS = int(os.environ.get("MEDIA_BARGE_IN_TRIALS", "3"))  # per mode; more for a measurement


async def test_bot_leg_ready_waits_for_the_events_socket_and_comes_once(stack: MediaStack) -> None:
    base = f"{stack.controller_url}/v1/sessions"
    async with aiohttp.ClientSession(headers=stack.api_headers) as http:

        async def signal(method: str, data: dict[str, Any]) -> dict[str, Any]:
            body = SignalRequest(method=method, data=data).model_dump()
            async with http.post(f"{base}/early/signal", json=body) as response:
                assert response.status == 200, await response.text()
                answer: dict[str, Any] = (await response.json())["data"]
                return answer

        async with http.post(base, json={"call_id": "early"}) as response:
            assert response.status == 201
        legs = await connect_gateway(signal)  # before anyone listens to the call's events
        # a second consumer of the bot (within the per-call caps): still one bot_leg_ready
        await signal("consume", {"transport_id": legs.bot_transport_id, "producer_id": "bot"})
        try:
            async with http.ws_connect(f"{base}/early/events") as ws:
                ready = media_event_adapter.validate_json(await ws.receive_str(timeout=2))
                assert ready == BotLegReady(
                    transport_id=legs.bot_transport_id, consumer_id=legs.bot_consumer_id
                )
                await ws.send_str(PlaybackStart(stream_id="after", sample_rate=16000).to_json())
                await ws.send_bytes(bytes(6400))
                await ws.send_str(PlaybackEnd(stream_id="after").to_json())
                later = [media_event_adapter.validate_json(await ws.receive_str(timeout=3)) for _ in range(2)]
                assert [type(event) for event in later] == [PlaybackStarted, PlaybackFinished]
        finally:
            legs.close()
            async with http.delete(f"{base}/early") as response:
                assert response.status == 204


async def test_bot_leg_ready_comes_before_any_playback(client: MediaClient) -> None:
    session = await client.open_session("ready-live", "7" * 32)
    try:
        legs = await connect_gateway(session.signal)
        async with asyncio.timeout(2):
            first = await anext(session.events())
        assert first == BotLegReady(transport_id=legs.bot_transport_id, consumer_id=legs.bot_consumer_id)
        legs.close()
    finally:
        await session.close()


class BargeInRig:
    """A call with a gateway's legs, a long bot reply and a caller who interrupts it."""

    def __init__(self, session: MediaSession, legs: GatewayLegs, tmp_path: Path) -> None:
        self.session = session
        self.legs = legs
        self.events: list[MediaEvent] = []
        self._reader = asyncio.create_task(self._read())
        self._arrived = asyncio.Event()
        self.bot_pcm = read_audio(
            speech_wav(tmp_path, "Let me read you the terms and conditions. " * 4, "bot.wav"), 16000
        )
        self.caller_pcm = read_audio(
            speech_wav(tmp_path, "Wait, stop, I have a question.", "caller.wav"), 16000
        )
        samples = np.frombuffer(self.caller_pcm, np.int16)
        loud = np.flatnonzero(np.abs(samples) >= 300)
        self.leading_silence_s = (int(loud[0]) // 160 * 160) / 16000 if loud.size else 0.0

    async def _read(self) -> None:
        async for event in self.session.events():
            self.events.append(event)
            self._arrived.set()

    async def next(self, kind: type, since: int, within: float) -> tuple[int, Any]:
        async with asyncio.timeout(within):
            while True:
                for index in range(since, len(self.events)):
                    if isinstance(self.events[index], kind):
                        return index, self.events[index]
                self._arrived.clear()
                await self._arrived.wait()

    async def trial(self, stream_id: str, *, interruptible: bool) -> dict[str, float]:
        """One interrupted reply; ms from the caller's audible onset to the barge-in and to the
        last bot packet at the gateway (stopping at once on barge_in_detected unless the
        controller does it)."""
        since = len(self.events)
        start = PlaybackStart(stream_id=stream_id, sample_rate=16000, interruptible=interruptible)
        await self.session._send(start.to_json())  # MediaSession has no interruptible= yet
        await self.session.send_pcm(self.bot_pcm)
        await self.next(PlaybackStarted, since, 3)
        await self.legs.sender.send_silence(0.3)
        speaking = asyncio.create_task(self.legs.sender.send_pcm(self.caller_pcm, 16000))
        at, barge_in = await self.next(BargeInDetected, since, 3)
        if not interruptible:
            await self.session.stop_playback(stream_id)
        finished_at, finished = await self.next(PlaybackFinished, since, 3)
        assert finished.stopped and finished.stream_id == stream_id and finished_at > at
        await self.legs.receiver.wait_quiet(0.2, within=3)
        onset_ms = (await speaking + self.leading_silence_s) * 1000
        last_packet_ms = self.legs.receiver.packets[-1].at * 1000
        await self._caller_silent(since)
        return {
            "detected": barge_in.detected_ms - onset_ms,
            "last_packet": last_packet_ms - onset_ms,
            "after_detection": last_packet_ms - barge_in.detected_ms,
        }

    async def _caller_silent(self, since: int) -> None:
        while True:
            since, speech = await self.next(CallerSpeech, since, 5)
            since += 1
            if not speech.speaking:
                return

    async def close(self) -> None:
        self._reader.cancel()
        self.legs.close()
        await self.session.close()


async def test_an_interruptible_playback_stops_on_barge_in_by_itself(
    client: MediaClient, tmp_path: Path
) -> None:
    session = await client.open_session("self-stop", "8" * 32)
    rig = BargeInRig(session, await connect_gateway(session.signal), tmp_path)
    try:
        measured = await rig.trial("interruptible", interruptible=True)
        finished = next(e for e in rig.events if isinstance(e, PlaybackFinished))
        # No playback_stop was sent; the last packet left within a frame or two of the decision.
        assert finished.stream_id == "interruptible" and finished.stopped
        assert measured["after_detection"] < 45, measured
    finally:
        await rig.close()


async def test_a_playback_plays_on_after_barge_in_unless_interruptible(
    client: MediaClient, tmp_path: Path
) -> None:
    session = await client.open_session("plays-on", "9" * 32)
    rig = BargeInRig(session, await connect_gateway(session.signal), tmp_path)
    try:
        await session.start_playback("default", 16000)
        await session.send_pcm(rig.bot_pcm)
        await rig.next(PlaybackStarted, 0, 3)
        await rig.legs.sender.send_silence(0.3)
        speaking = asyncio.create_task(rig.legs.sender.send_pcm(rig.caller_pcm, 16000))
        await rig.next(BargeInDetected, 0, 3)
        heard = len(rig.legs.receiver.packets)
        await rig.legs.receiver.wait_packets(heard + 15, within=2)  # 300 ms more of the bot
        assert not any(isinstance(e, PlaybackFinished) for e in rig.events)
        await session.stop_playback("default")
        _, finished = await rig.next(PlaybackFinished, 0, 2)
        assert finished.stopped
        await speaking
    finally:
        await rig.close()


async def test_barge_in_stop_latency_with_and_without_the_controller_stopping(
    client: MediaClient, tmp_path: Path
) -> None:
    """Onset → last bot packet: the controller stopping an interruptible playback itself vs the
    playback_stop round trip (here through a client that sends it at once: call-api's own work
    before it would only add to that side)."""
    session = await client.open_session("stop-latency", "a1" * 16)
    rig = BargeInRig(session, await connect_gateway(session.signal), tmp_path)
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    try:
        for n in range(TRIALS):
            for interruptible in (n % 2 == 0, n % 2 != 0):
                results[interruptible].append(
                    await rig.trial(f"t{n}-{interruptible}", interruptible=interruptible)
                )
    finally:
        await rig.close()
    for interruptible, trials in results.items():
        for figure, label in (
            ("detected", "onset → barge_in_detected"),
            ("last_packet", "onset → last bot packet"),
            ("after_detection", "barge_in_detected → last bot packet"),
        ):
            values = sorted(t[figure] for t in trials)
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            print(
                f"\n[{'self-stop' if interruptible else 'playback_stop'}] {label}:"
                f" p50 {statistics.median(values):.1f} ms, p95 {p95:.1f} ms (n={len(values)})",
                end="",
            )
    # The median, not the maximum: one stall of a loaded machine is not what this checks (the
    # figures themselves are `make bench`'s).
    assert statistics.median(t["after_detection"] for t in results[True]) < 60
