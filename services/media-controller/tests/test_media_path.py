"""End to end on loopback: the gateway's RTP → mediasoup → tap → call-api's caller audio, and
call-api's PCM → Opus RTP → mediasoup → the gateway's port; barge-in and stop."""

import asyncio
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from voicebot_mediaclient import MediaClient, MediaSession
from voicebot_protocol.media import (
    BargeInDetected,
    CallerSpeech,
    MediaEvent,
    PlaybackFinished,
    PlaybackStarted,
)

from tests.support.media import (
    MediaStack,
    best_correlation,
    connect_gateway,
    envelope,
    opus_packets,
    read_audio,
    speech_wav,
)


async def collect_audio(session: MediaSession, frames: list[bytes]) -> None:
    async for frame in session.caller_audio():
        frames.append(frame)


async def next_event(
    session: MediaSession, kind: type[MediaEvent], within: float, seen: list[MediaEvent]
) -> MediaEvent:
    """The next event of this type (others are kept in `seen`)."""
    async with asyncio.timeout(within):
        async for event in session.events():
            seen.append(event)
            if isinstance(event, kind):
                return event
    raise AssertionError(f"events ended before a {kind.__name__}")


@pytest.mark.parametrize("sender", ["pyav", "ffmpeg", "reordered"])
async def test_caller_audio_reaches_call_api(client: MediaClient, tmp_path: Path, sender: str) -> None:
    session = await client.open_session(f"tap-{sender}", "a" * 32)
    legs = await connect_gateway(session.signal)
    wav = speech_wav(tmp_path, "Hello, I am calling about my order from last week.")
    speech = read_audio(wav, 16000)
    frames: list[bytes] = []
    collector = asyncio.create_task(collect_audio(session, frames))
    try:
        if sender in ("pyav", "reordered"):
            await legs.sender.send_silence(0.3)
            packets = opus_packets(speech, 16000)
            order = list(range(len(packets)))
            if sender == "reordered":  # swap neighbours every 7 packets, lose every 50th
                for i in range(0, len(order) - 1, 7):
                    order[i], order[i + 1] = order[i + 1], order[i]
                order = [index for index in order if index % 50 != 25]
            await legs.sender.send_packets(packets, order=order)
            await legs.sender.send_silence(0.6)
        else:  # ffmpeg sends from the address the caller leg is connected to (the sender's port)
            local_port = legs.sender.local_port
            legs.sender.close()
            padded = tmp_path / "padded.wav"
            sox = await asyncio.create_subprocess_exec("sox", str(wav), str(padded), "pad", "0.3", "0.6")
            assert await sox.wait() == 0
            port = legs.sender.address[1]
            ffmpeg = await asyncio.create_subprocess_exec(
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(padded), "-ac", "1",
                "-c:a", "libopus", "-b:a", "32k", "-payload_type", "100", "-ssrc", str(legs.sender.ssrc),
                "-f", "rtp", f"rtp://127.0.0.1:{port}?pkt_size=1200&localrtpport={local_port}",
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            _, stderr = await asyncio.wait_for(ffmpeg.communicate(), 20)
            assert ffmpeg.returncode == 0, stderr.decode()
        events: list[MediaEvent] = []
        await next_event(session, CallerSpeech, 2, events)  # speaking=true
        speech_events = [e for e in events if isinstance(e, CallerSpeech)]
        async with asyncio.timeout(3):
            while len(speech_events) < 2:
                event = await next_event(session, CallerSpeech, 3, events)
                speech_events.append(event)  # type: ignore[arg-type]
    finally:
        collector.cancel()
        legs.close()
        await session.close()

    assert [e.speaking for e in speech_events[:2]] == [True, False]
    assert all(len(f) == 640 for f in frames)
    received = b"".join(frames)
    assert len(received) >= len(speech)  # speech + the silence around it; lost packets concealed
    correlation, lag = best_correlation(envelope(speech), envelope(received), max_lag=60)
    print(
        f"\n[{sender}] caller audio: {len(frames)} frames,"
        f" envelope correlation {correlation:.3f} at lag {lag * 20} ms"
    )
    assert correlation > 0.85


async def test_playback_reaches_the_client_port_and_stops_at_once(
    client: MediaClient, tmp_path: Path
) -> None:
    session = await client.open_session("playback-1", "b" * 32)
    legs = await connect_gateway(session.signal)
    bot_speech = read_audio(speech_wav(tmp_path, "Thank you for calling. How can I help you today?"), 22050)
    events: list[MediaEvent] = []
    try:
        await session.start_playback("greeting", 22050, text="Thank you for calling")
        for start in range(0, len(bot_speech), 4410):  # 100 ms chunks, as TTS streams it
            await session.send_pcm(bot_speech[start : start + 4410])
        await session.end_playback("greeting")
        started = await next_event(session, PlaybackStarted, 10, events)
        finished = await next_event(session, PlaybackFinished, 20, events)
        await legs.receiver.wait_packets(finished.played_ms // 20 - 2, within=10)  # the last in flight
        await legs.receiver.wait_quiet(0.2, within=10)
    finally:
        legs.close()
        await session.close()

    assert isinstance(started, PlaybackStarted) and isinstance(finished, PlaybackFinished)
    assert started.stream_id == "greeting" and started.rtp_port == legs.receiver.port
    assert (started.ssrc, started.payload_type, started.codec, started.clock_rate) == (
        legs.bot_ssrc, legs.bot_payload_type, "opus", 48000,
    )  # fmt: skip
    duration_ms = len(bot_speech) / 2 / 22050 * 1000
    assert not finished.stopped and abs(finished.played_ms - duration_ms) <= 60
    packets = legs.receiver.packets
    assert {p.ssrc for p in packets} == {started.ssrc}
    assert abs(len(packets) * 20 - finished.played_ms) <= 40
    # real-time pace through mediasoup: arrivals stay within a band around the 20 ms grid (the
    # middle 80 %, so that a stall of a loaded machine does not count as drift)
    offsets = np.array([p.at for p in packets]) - np.arange(len(packets)) * 0.020
    assert np.percentile(offsets, 90) - np.percentile(offsets, 10) < 0.060
    received = legs.receiver.pcm(16000)
    reference = read_audio_pcm(bot_speech, 22050)
    correlation, lag = best_correlation(envelope(reference), envelope(received), max_lag=30)
    print(f"\nplayback: {len(packets)} packets, envelope correlation {correlation:.3f} at lag {lag * 20} ms")
    assert correlation > 0.85


def read_audio_pcm(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    positions = np.arange(0, len(samples), rate / 16000)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16).tobytes()


async def test_barge_in_is_reported_and_stop_silences_the_bot(
    client: MediaClient, stack: MediaStack, tmp_path: Path
) -> None:
    session = await client.open_session("barge-1", "c" * 32)
    legs = await connect_gateway(session.signal)
    bot_speech = read_audio(
        speech_wav(tmp_path, "Let me read you the full terms and conditions. " * 4, "bot.wav"), 16000
    )
    caller_speech = read_audio(speech_wav(tmp_path, "Wait, stop, I have a question.", "caller.wav"), 16000)
    leading_silence = 0
    while (
        max(abs(s) for s in np.frombuffer(caller_speech[leading_silence : leading_silence + 320], np.int16))
        < 300
    ):
        leading_silence += 320  # 10 ms steps to the first audible sample
    events: list[MediaEvent] = []
    sender_task: asyncio.Task[float] | None = None
    try:
        await session.start_playback("terms", 16000)
        await session.send_pcm(bot_speech)
        await next_event(session, PlaybackStarted, 10, events)
        await legs.sender.send_silence(0.5)  # the caller listens for a while...
        sender_task = asyncio.create_task(legs.sender.send_pcm(caller_speech, 16000))  # ...then talks
        barge_in = await next_event(session, BargeInDetected, 10, events)
        stop_sent_at = time.monotonic()
        await session.stop_playback("terms")
        finished = await next_event(session, PlaybackFinished, 10, events)
        finished_at = time.monotonic()
        await legs.receiver.wait_quiet(0.3, within=10)
        await asyncio.wait_for(sender_task, 5)
    finally:
        if sender_task is not None:
            sender_task.cancel()
        legs.close()
        await session.close()

    assert isinstance(barge_in, BargeInDetected) and isinstance(finished, PlaybackFinished)
    assert sender_task is not None
    speech_started_at = sender_task.result()  # monotonic time of the speech's first packet
    onset_s = speech_started_at + leading_silence / 32000  # when audible speech left the gateway
    latency_ms = barge_in.detected_ms - onset_s * 1000
    print(
        f"\nbarge-in ({barge_in.source}): detected {latency_ms:.0f} ms"
        " after the speech onset left the gateway;"
        f" VAD onset at {barge_in.onset_ms - onset_s * 1000:+.0f} ms"
    )
    assert barge_in.source in ("vad", "audio_level")
    assert 0 < latency_ms < 1500  # during the caller's words (the figure itself is in `make bench`)
    assert finished.stopped and finished.stream_id == "terms" and finished.played_ms < len(bot_speech) / 32
    # What the controller reports as played is what arrived: the stop cut the stream. A few packets
    # that left before the stop may still have been inside mediasoup when the event came back.
    late = [p for p in legs.receiver.packets if p.at > finished_at + 0.005]
    assert len(late) <= 5, f"{len(late)} bot packets arrived after the stop ({stop_sent_at=})"
    assert abs(len(legs.receiver.packets) * 20 - finished.played_ms) <= 60


async def test_audio_level_observer_reports_barge_in_when_vad_does_not(client: MediaClient) -> None:
    """A caller whose RTP claims loud audio (RFC 6464 levels) over silent Opus: only mediasoup's
    AudioLevelObserver hears it, and its barge-in is forwarded (source audio_level)."""
    session = await client.open_session("barge-level", "d" * 32)
    legs = await connect_gateway(session.signal, audio_level=True)
    events: list[MediaEvent] = []
    try:
        await session.start_playback("long", 16000)
        await session.send_pcm(bytes(32000 * 4))  # 4 s
        await next_event(session, PlaybackStarted, 2, events)
        legs.sender.audio_level = 10  # -10 dBov
        sending = asyncio.create_task(legs.sender.send_silence(2.0))
        barge_in = await next_event(session, BargeInDetected, 3, events)
        sending.cancel()
    finally:
        legs.close()
        await session.close()
    assert isinstance(barge_in, BargeInDetected) and barge_in.source == "audio_level"
    assert not any(isinstance(e, CallerSpeech) for e in events)  # the VAD heard nothing
    assert barge_in.onset_ms <= barge_in.detected_ms
