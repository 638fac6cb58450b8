"""Real telephony media on loopback, through the real mediasoup worker: a G.711 gateway on the
symmetric pattern (ONE plain transport, comedia off, connected to the gateway's address, carrying
the caller's producer and the bot's consumer), plain RTP without the audio-level extension. The
bot's PCMU/PCMA reaches the gateway's socket and matches the source; the caller's G.711 speech
reaches call-api as 16 kHz PCM; RFC 4733 digits become `dtmf` events once each; barge-in on G.711
is measured against the Opus path."""

import asyncio
import itertools
import os
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from media_controller.call_codecs import CODECS
from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_protocol.media import (
    BargeInDetected,
    BotLegReady,
    CallerSpeech,
    DtmfDetected,
    MediaEvent,
    PlaybackFinished,
    PlaybackStart,
    PlaybackStarted,
)

from tests.support.media import best_correlation, connect_gateway, envelope, read_audio, speech_wav
from tests.support.telephony import SymmetricGateway, connect_symmetric

TRIALS = int(os.environ.get("MEDIA_BARGE_IN_TRIALS", "3"))  # per codec; more for a measurement


class Events:
    def __init__(self, session: MediaSession) -> None:
        self.seen: list[MediaEvent] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read(session))

    async def _read(self, session: MediaSession) -> None:
        async for event in session.events():
            self.seen.append(event)
            self._arrived.set()

    async def next(self, kind: type, since: int, within: float) -> tuple[int, Any]:
        async with asyncio.timeout(within):
            while True:
                for index in range(since, len(self.seen)):
                    if isinstance(self.seen[index], kind):
                        return index, self.seen[index]
                self._arrived.clear()
                await self._arrived.wait()

    def close(self) -> None:
        self._task.cancel()


async def collect(
    session: MediaSession, frames: list[bytes], enough: tuple[int, asyncio.Event] | None = None
) -> None:
    """The caller's frames as the controller forwards them; `enough`: (count, set once that many)."""
    async for frame in session.caller_audio():
        frames.append(frame)
        if enough is not None and len(frames) >= enough[0]:
            enough[1].set()


@pytest.mark.parametrize("codec", ["pcmu", "pcma"])
async def test_g711_both_ways_on_one_symmetric_transport(
    client: MediaClient, tmp_path: Path, codec: str
) -> None:
    session = await client.open_session(f"g711-{codec}", "b7" * 16, codec=codec)  # type: ignore[arg-type]
    gateway = await SymmetricGateway.open(codec)
    events = Events(session)
    frames: list[bytes] = []
    collector = asyncio.create_task(collect(session, frames))
    try:
        consumed = await connect_symmetric(session.signal, gateway)
        rtp = consumed["rtp_parameters"]
        assert rtp["codecs"][0]["mimeType"] == CODECS[codec].mime_type
        assert rtp["codecs"][0]["payloadType"] == CODECS[codec].payload_type
        await events.next(BotLegReady, 0, 2)
        stats = await session.stats()
        held = {kind: len(stats[kind]) for kind in ("transports", "producers", "consumers")}
        # the controller's own bot and tap legs add 2 transports, 1 producer, 1 consumer
        assert held == {"transports": 3, "producers": 2, "consumers": 2}, stats

        # the bot speaks: G.711 RTP at the gateway's socket (the address it gave), matching the source
        bot_speech = read_audio(
            speech_wav(tmp_path, "Your appointment is on Monday at nine.", "bot.wav"), 16000
        )
        await session.start_playback("greeting", 16000)
        await session.send_pcm(bot_speech)
        await session.end_playback("greeting")
        _, started = await events.next(PlaybackStarted, 0, 3)
        assert (started.codec, started.clock_rate, started.payload_type) == (
            codec,
            8000,
            CODECS[codec].payload_type,
        )
        assert started.rtp_port == gateway.port
        _, finished = await events.next(PlaybackFinished, 0, 10)
        assert not finished.stopped
        await gateway.wait_quiet(0.2, within=2)
        bot = [p for p in gateway.packets if p.ssrc == int(rtp["encodings"][0]["ssrc"])]
        assert bot and all(
            p.payload_type == CODECS[codec].payload_type and len(p.payload) == 160 for p in bot
        )
        steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(bot)}
        assert steps == {160}, steps
        heard = gateway.pcm()
        correlation, _ = best_correlation(envelope(bot_speech), envelope(heard), max_lag=10)
        assert correlation > 0.85, correlation

        # the caller speaks G.711: 16 kHz PCM reaches call-api, and the VAD hears it
        caller_speech = read_audio(
            speech_wav(tmp_path, "I would like to move it to Tuesday.", "caller.wav"), 16000
        )
        since = len(events.seen)
        await gateway.send_silence(0.2)
        await gateway.send_pcm(caller_speech, 16000)
        await gateway.send_silence(0.6)
        await events.next(CallerSpeech, since, 3)
        async with asyncio.timeout(3):
            while not any(isinstance(e, CallerSpeech) and not e.speaking for e in events.seen[since:]):
                await events.next(CallerSpeech, len(events.seen), 3)
        received = b"".join(frames)
        assert all(len(frame) == 640 for frame in frames)
        correlation, _ = best_correlation(envelope(caller_speech), envelope(received), max_lag=40)
        assert correlation > 0.85, correlation

        # RFC 4733 digits in the same stream: one dtmf event each, the audio path undisturbed
        since = len(events.seen)
        await gateway.press(5)
        await gateway.send_silence(0.1)
        await gateway.press(11, duration_ms=200)
        await gateway.send_silence(0.2)
        _, first = await events.next(DtmfDetected, since, 2)
        _, second = await events.next(DtmfDetected, events.seen.index(first) + 1, 2)
        assert (first.digit, first.duration_ms, second.digit, second.duration_ms) == ("5", 120, "#", 200)
        await gateway.send_silence(0.2)
        assert [e.digit for e in events.seen[since:] if isinstance(e, DtmfDetected)] == ["5", "#"]
    finally:
        collector.cancel()
        events.close()
        gateway.close()
        await session.close()


async def test_keys_on_an_opus_line_reach_call_api_too(client: MediaClient) -> None:
    """An Opus trunk with telephone-event/8000: the carrier (PCMA) rides beside Opus/48000."""
    session = await client.open_session("opus-keys", "b9" * 16)
    gateway = await SymmetricGateway.open("opus")
    events = Events(session)
    try:
        await connect_symmetric(session.signal, gateway)
        await gateway.send_silence(0.2)
        await gateway.press(7)
        await gateway.press(0, duration_ms=60)
        await gateway.send_silence(0.2)
        _, first = await events.next(DtmfDetected, 0, 3)
        _, second = await events.next(DtmfDetected, events.seen.index(first) + 1, 3)
        assert (first.digit, first.duration_ms, second.digit, second.duration_ms) == ("7", 120, "0", 60)
    finally:
        events.close()
        gateway.close()
        await session.close()


async def test_a_symmetric_transport_ignores_other_sources(client: MediaClient, tmp_path: Path) -> None:
    """comedia off: mediasoup accepts the caller's RTP only from the connected address."""
    session = await client.open_session("g711-spoof", "b8" * 16, codec="pcmu")
    gateway = await SymmetricGateway.open("pcmu")
    intruder = await SymmetricGateway.open("pcmu")
    frames: list[bytes] = []
    marker_through = asyncio.Event()
    collector = asyncio.create_task(collect(session, frames, (10, marker_through)))
    try:
        await connect_symmetric(session.signal, gateway)
        intruder.remote, intruder.ssrc = gateway.remote, gateway.ssrc
        speech = read_audio(speech_wav(tmp_path, "Nobody should hear this.", "spoof.wav"), 16000)
        await intruder.send_pcm(speech, 16000)
        await gateway.send_silence(0.3)  # a marker: only these frames may arrive
        # Most of the marker is through, so the intruder's packets, sent before it, have had their chance.
        await asyncio.wait_for(marker_through.wait(), 20)
        samples = np.frombuffer(b"".join(frames), np.int16)
        assert samples.size and int(np.abs(samples).max()) < 300, "the intruder's audio got through"
    finally:
        collector.cancel()
        gateway.close()
        intruder.close()
        await session.close()


async def barge_in_trial(session: MediaSession, events: Events, caller: Any, receiver: Any, bot_pcm: bytes,
                         caller_pcm: bytes, lead_s: float, stream_id: str) -> dict[str, float]:  # fmt: skip
    since = len(events.seen)
    await session._send(PlaybackStart(stream_id=stream_id, sample_rate=16000, interruptible=True).to_json())
    await session.send_pcm(bot_pcm)
    await events.next(PlaybackStarted, since, 3)
    await caller.send_silence(0.3)
    speaking = asyncio.create_task(caller.send_pcm(caller_pcm, 16000))
    _, barge_in = await events.next(BargeInDetected, since, 3)
    _, finished = await events.next(PlaybackFinished, since, 3)
    assert finished.stopped
    await receiver.wait_quiet(0.2, within=3)
    onset_ms = (await speaking + lead_s) * 1000
    last_ms = receiver.packets[-1].at * 1000
    while True:  # the caller falls silent before the next trial
        since, speech = await events.next(CallerSpeech, since, 5)
        since += 1
        if not speech.speaking:
            break
    return {"detected": barge_in.detected_ms - onset_ms, "last_packet": last_ms - onset_ms}


async def test_barge_in_on_plain_g711_is_as_fast_as_on_opus(client: MediaClient, tmp_path: Path) -> None:
    """No audio-level extension on the G.711 leg: the VAD alone; the Opus leg as in test_bot_leg."""
    bot_pcm = read_audio(
        speech_wav(tmp_path, "Let me read you the terms and conditions. " * 4, "b.wav"), 16000
    )
    caller_pcm = read_audio(speech_wav(tmp_path, "Wait, stop, I have a question.", "c.wav"), 16000)
    loud = np.flatnonzero(np.abs(np.frombuffer(caller_pcm, np.int16)) >= 300)
    lead_s = (int(loud[0]) // 160 * 160) / 16000
    results: dict[str, list[dict[str, float]]] = {"pcmu": [], "opus": []}
    g711 = await client.open_session("barge-g711", "c1" * 16, codec="pcmu")
    opus = await client.open_session("barge-opus", "c2" * 16)
    gateway = await SymmetricGateway.open("pcmu")
    g711_events, opus_events = Events(g711), Events(opus)
    legs = None
    try:
        await connect_symmetric(g711.signal, gateway)
        legs = await connect_gateway(opus.signal)
        for n in range(TRIALS):
            results["pcmu"].append(
                await barge_in_trial(
                    g711, g711_events, gateway, gateway, bot_pcm, caller_pcm, lead_s, f"g{n}"
                )
            )
            results["opus"].append(
                await barge_in_trial(
                    opus, opus_events, legs.sender, legs.receiver, bot_pcm, caller_pcm, lead_s, f"o{n}"
                )
            )
        assert not any(e.source == "audio_level" for e in g711_events.seen if isinstance(e, BargeInDetected))
    finally:
        g711_events.close()
        opus_events.close()
        gateway.close()
        if legs is not None:
            legs.close()
        await g711.close()
        await opus.close()
    medians = {}
    for codec, trials in results.items():
        for figure in ("detected", "last_packet"):
            values = sorted(t[figure] for t in trials)
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            medians[codec, figure] = statistics.median(values)
            print(f"\n[{codec}] onset → {figure}: p50 {medians[codec, figure]:.1f} ms, p95 {p95:.1f} ms"
                  f" (n={len(values)})", end="")  # fmt: skip
    # as fast as Opus: within one 20 ms frame of it (loopback timing noise), and well under 200 ms
    assert medians["pcmu", "detected"] <= medians["opus", "detected"] + 20, medians
    assert medians["pcmu", "last_packet"] <= medians["opus", "last_packet"] + 20, medians
    assert medians["pcmu", "last_packet"] < 200, medians
