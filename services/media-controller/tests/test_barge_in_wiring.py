"""The barge-in detector as the controller runs it: the player reports the PCM of every packet it
sends (whole 20 ms frames at the stream's rate, whatever chunks the PCM came in); the detector, fed
on jittered event-loop stamps and the VAD's voiced answers, still recognises the bot's own echo
at another sample rate, and without what the bot sent the same audio is an onset."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace

import numpy as np
import pytest
from media_controller.barge_in import BargeInDetector, BargeInSettings, Onset
from media_controller.caller_leg import CallerLeg
from media_controller.frame_clock import FrameClock
from media_controller.outbox import Outbox
from media_controller.playback import Playback, Player
from media_controller.rtp_sender import RtpSender
from media_controller.settings import Settings
from media_controller.udp import open_udp
from media_controller.vad import SpeechDetector
from voicebot_callsim.audio import speech_pcm
from voicebot_protocol.media import BargeInDetected

from tests.support.media import RtpOpusReceiver

TTS_RATE = 22050  # Piper's
CALLER_RATE = 16000


def test_frame_clock_takes_steady_times_from_late_stamps() -> None:
    clock = FrameClock()
    stamps = [0.0, 23.0, 41.0, 66.0, 80.0, 100.0]  # up to 6 ms late, never early
    assert [clock.at(s) for s in stamps] == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    burst = FrameClock()
    assert [burst.at(s) for s in (0.0, 60.0, 60.0, 60.0)][-1] == 60.0  # a late batch ends at its stamp
    paused = FrameClock()
    assert [paused.at(s) for s in (0.0, 20.0, 300.0, 320.0)] == [0.0, 20.0, 300.0, 320.0]  # a new run


@pytest.fixture
async def player() -> AsyncIterator[tuple[Player, list[tuple[bytes, int]], asyncio.Event]]:
    receiver = await RtpOpusReceiver.open()
    udp, _port = await open_udp("127.0.0.1", remote=("127.0.0.1", receiver.port))
    sent: list[tuple[bytes, int]] = []
    done = asyncio.Event()

    def finished(playback: Playback) -> None:
        done.set()

    player = Player(
        RtpSender(udp, 100, 0x1234),
        bitrate=32000,
        on_started=lambda playback: None,
        on_finished=finished,
        on_sent=lambda pcm, rate: sent.append((pcm, rate)),
    )
    yield player, sent, done
    player.close()
    receiver.close()


async def test_the_player_reports_the_pcm_of_each_packet_in_whole_frames(
    player: tuple[Player, list[tuple[bytes, int]], asyncio.Event],
) -> None:
    play, sent, done = player
    pcm = np.random.default_rng(1).integers(-3000, 3000, TTS_RATE // 2, dtype=np.int16).tobytes()  # 0.5 s
    playback = play.start("s", TTS_RATE)
    for start in range(0, len(pcm), 1002):  # chunks that are no whole number of frames
        play.feed(pcm[start : start + 1002])
    play.end("s")
    async with asyncio.timeout(10):
        await done.wait()
    frame = TTS_RATE // 50 * 2
    assert {rate for _, rate in sent} == {TTS_RATE}
    assert {len(pcm) for pcm, _ in sent} == {frame}
    reported = b"".join(pcm for pcm, _ in sent)
    assert reported == pcm[: len(reported)], "in order, nothing lost or repeated"
    assert len(sent) <= playback.packets_sent and len(reported) == len(pcm) // frame * frame


def bot_and_echo(delay_ms: float = 120.0, attenuation_db: float = 12.0) -> tuple[bytes, np.ndarray]:
    """The bot's speech at the TTS rate, and its echo as the caller leg decodes it (16 kHz)."""
    bot = speech_pcm("Your appointment is on Wednesday morning at nine thirty.", TTS_RATE)
    samples = np.frombuffer(bot, dtype=np.int16).astype(np.float64)
    at_16k = np.interp(
        np.arange(len(samples) * CALLER_RATE // TTS_RATE) * TTS_RATE / CALLER_RATE,
        np.arange(len(samples)),
        samples,
    )
    delay = np.zeros(round(delay_ms * CALLER_RATE / 1000))
    echo = np.concatenate([delay, at_16k * 10 ** (-attenuation_db / 20)])
    return bot, np.clip(echo, -32768, 32767).astype(np.int16)


def run(detector: BargeInDetector, bot: bytes | None, echo: np.ndarray) -> int:
    """The call as the controller sees it, on stamps up to 4 ms late; the onsets counted."""
    rng = np.random.default_rng(14)
    vad = SpeechDetector(2, 4, 400, 300.0)
    bot_frame, caller_frame = TTS_RATE // 50 * 2, CALLER_RATE // 50
    frames = len(echo) // caller_frame
    onsets = 0
    for n in range(frames):
        if bot is not None and (n + 1) * bot_frame <= len(bot):
            detector.bot_sent(bot[n * bot_frame : (n + 1) * bot_frame], n * 20 + rng.uniform(0, 4), TTS_RATE)
        frame = echo[n * caller_frame : (n + 1) * caller_frame].tobytes()
        now = (n + 1) * 20 + rng.uniform(0, 4)
        vad.feed(frame, now)
        if detector.push(frame, now, voiced=vad.last_voiced) is not None:
            onsets += 1
    return onsets


def test_the_bots_echo_is_not_a_barge_in_though_the_same_audio_unannounced_is() -> None:
    bot, echo = bot_and_echo()
    assert run(BargeInDetector(), bot, echo) == 0
    assert run(BargeInDetector(), None, echo) >= 1, "the case is real: the echo is speech to the VAD"


class CountingDetector(BargeInDetector):
    def __init__(self) -> None:
        super().__init__()
        self.voiced_pushes = 0

    def push(
        self, caller_frame: bytes, now_ms: float, voiced: bool | None = None, rms: float | None = None
    ) -> Onset | None:
        self.voiced_pushes += bool(voiced)
        return super().push(caller_frame, now_ms, voiced, rms)


async def test_once_a_playbacks_barge_in_is_reported_the_caller_costs_no_detection() -> None:
    """A caller talking over a prompt that is not interruptible: one barge-in event, then the
    detector only keeps the echo window (no Silero, no echo search) until the next playback."""
    events: list[object] = []
    playback = SimpleNamespace(stream_id="s", interruptible=False, barge_in_reported=False)
    bot = SimpleNamespace(playing=lambda: playback, interrupt=lambda p: False, on_audio_sent=None)
    call = SimpleNamespace(
        settings=Settings(),
        outbox=SimpleNamespace(event=events.append),
        log=logging.getLogger("test"),
    )
    leg = CallerLeg(call, ledger=None, bot=bot)  # type: ignore[arg-type]
    detector = leg.barge_in = CountingDetector()
    vad = SpeechDetector(2, 4, 400, 300.0)
    speech = np.frombuffer(speech_pcm("Hold on, I need to change that appointment.", CALLER_RATE), np.int16)
    frame_samples = CALLER_RATE // 50
    for n in range(len(speech) // frame_samples):
        frame = speech[n * frame_samples : (n + 1) * frame_samples].tobytes()
        vad.feed(frame, n * 20.0)
        leg._voice(frame, n * 20.0, vad.last_voiced, vad.last_rms)
    assert [type(e) for e in events] == [BargeInDetected]
    assert playback.barge_in_reported
    assert detector.voiced_pushes <= BargeInSettings().onset_frames + 3, "detection went on after the event"


def test_the_detector_takes_each_frames_rms_from_the_callers_vad(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's VAD computed the RMS of every frame it voiced: the detector's loudness test
    reuses it, with the same answers as when it computes it itself."""
    speech = np.frombuffer(speech_pcm("Hold on, I need to change that appointment.", CALLER_RATE), np.int16)
    frame_samples = CALLER_RATE // 50
    frames = [speech[n : n + frame_samples].tobytes() for n in range(0, len(speech), frame_samples)][:-1]

    def onsets(detector: BargeInDetector, with_rms: bool) -> list[Onset]:
        vad, found = SpeechDetector(2, 4, 400, 300.0), []
        for n, frame in enumerate(frames):
            vad.feed(frame, n * 20.0)
            rms = vad.last_rms if with_rms else None
            onset = detector.push(frame, n * 20.0, voiced=vad.last_voiced, rms=rms)
            found += [onset] if onset is not None else []
        return found

    computed = onsets(BargeInDetector(), with_rms=False)
    assert computed, "the case is real: the speech is an onset"
    calls: list[bytes] = []
    monkeypatch.setattr("media_controller.barge_in.frame_rms", lambda frame: calls.append(frame) or 0.0)
    assert onsets(BargeInDetector(), with_rms=True) == computed
    assert calls == []


async def test_the_barge_in_event_leaves_before_the_bot_is_stopped_and_the_log_written() -> None:
    """What call-api waits for goes first: the outbox's writer takes the event before the bot's
    playback is stopped here (a few ms of work on a loaded host) and before the log line."""
    order: list[str] = []
    logged = asyncio.Event()
    playback = SimpleNamespace(stream_id="s", interruptible=True, barge_in_reported=False)

    def interrupt(p: object) -> bool:
        order.append("bot stopped")
        return True

    class Log(logging.LoggerAdapter):  # type: ignore[type-arg]
        def info(self, msg: object, *args: object, **kwargs: object) -> None:
            order.append(f"logged {msg}")
            logged.set()

    outbox = Outbox(100)
    outbox.attached = True
    bot = SimpleNamespace(playing=lambda: playback, interrupt=interrupt, on_audio_sent=None)
    call = SimpleNamespace(settings=Settings(), outbox=outbox, log=Log(logging.getLogger("test")))
    leg = CallerLeg(call, ledger=None, bot=bot)  # type: ignore[arg-type]

    async def write() -> None:  # as the events WebSocket's writer (app._write_outbox)
        while (item := await outbox.next()) is not None:
            if isinstance(item, str):
                order.append(f"sent {json.loads(item)['type']}")

    writer = asyncio.create_task(write())
    await asyncio.sleep(0)  # the writer waits for the outbox, as on a call
    vad = SpeechDetector(2, 4, 400, 300.0)
    speech = np.frombuffer(speech_pcm("Hold on, I need to change that appointment.", CALLER_RATE), np.int16)
    frame_samples = CALLER_RATE // 50
    for n in range(len(speech) // frame_samples):
        frame = speech[n * frame_samples : (n + 1) * frame_samples].tobytes()
        vad.feed(frame, n * 20.0)
        leg._voice(frame, n * 20.0, vad.last_voiced, vad.last_rms)
        if playback.barge_in_reported:
            break
    async with asyncio.timeout(5):
        await logged.wait()
    outbox.close()
    await writer
    assert order[:3] == ["sent barge_in_detected", "bot stopped", "logged barge-in detected"]
