"""The caller-silence limit: no caller audio for CALL_API_CALLER_SILENCE_SECONDS ends the call with
caller_silence; every caller frame moves the deadline. Time is the test's own (a fake clock whose
sleeps return when the test advances it), so nothing here depends on the machine's speed."""

import asyncio

from call_api.orchestrator.listening.caller_silence import CallerSilence
from voicebot_protocol import EndReason
from voicebot_protocol.media import BotLegReady

SECOND = "How can I help you today?"
READY = BotLegReady(transport_id="t", consumer_id="c")
FRAME = b"\x00\x00" * 320


class FakeTime:
    """A clock for CallerSilence: its sleep parks until the test moves the time on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._sleeping = asyncio.Event()
        self._woken = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._sleeping.set()
        await self._woken.wait()
        self._woken.clear()

    async def advance_to(self, now: float) -> None:
        """Once the watch sleeps: set the time and wake it."""
        async with asyncio.timeout(10):
            await self._sleeping.wait()
        self._sleeping.clear()
        self.now = now
        self._woken.set()

    async def wait_sleeping(self) -> None:
        async with asyncio.timeout(10):
            await self._sleeping.wait()


class ObservedSilence(CallerSilence):
    """The watch, telling the test when a caller frame reached it."""

    def __init__(self, limit: float, time: FakeTime) -> None:
        super().__init__(limit, clock=time.clock, sleep=time.sleep)
        self.frame_heard = asyncio.Event()

    def heard(self) -> None:
        super().heard()
        self.frame_heard.set()


async def test_the_deadline_follows_the_last_frame() -> None:
    now = [0.0]
    frames = [30.0, 80.0]  # caller frames arrive at these times
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        target = now[0] + seconds
        while frames and frames[0] <= target:
            now[0] = frames.pop(0)
            watch.heard()
        now[0] = target

    watch = CallerSilence(60, clock=lambda: now[0], sleep=sleep)
    await watch.expired()
    assert now[0] == 140.0  # 60 s after the last frame (80 s)
    assert slept == [60.0, 30.0, 50.0]


async def test_a_caller_who_never_sends_audio_ends_the_call(new_call) -> None:
    call = new_call(caller_silence_seconds=0.2)
    call.tts.held[SECOND] = asyncio.Event()  # the bot is still greeting: only the limit can end it
    call.start()
    call.media.push(READY)
    result = await call.result(timeout=10)
    assert result is not None
    assert (result.reason, result.message) == (EndReason.CALLER_SILENCE, "no caller audio for 0.2 s")
    assert ("tts", "cancelled", SECOND) in call.timeline.entries  # the greeting was cut short
    assert call.orchestrator.turns.state.value == "ended"


async def test_caller_frames_keep_the_call_alive_until_they_stop(new_call) -> None:
    call = new_call(caller_silence_seconds=60)
    time = FakeTime()
    watch = ObservedSilence(60, time)
    call.orchestrator.caller_silence = watch
    call.tts.held[SECOND] = asyncio.Event()
    call.start()
    call.media.push(READY)
    await time.wait_sleeping()
    watch.frame_heard.clear()  # the start of the call
    assert time.sleeps == [60.0]  # the limit counts from the call's start

    time.now = 50.0
    call.media.push_audio(FRAME)
    async with asyncio.timeout(10):
        await watch.frame_heard.wait()
    assert watch.last_heard == 50.0

    await time.advance_to(100.0)  # 100 s into the call, but only 50 s after the frame
    await time.wait_sleeping()
    assert not call.task.done()
    assert time.sleeps[-1] == 10.0

    await time.advance_to(110.0)
    result = await call.result(timeout=10)
    assert result is not None and result.reason is EndReason.CALLER_SILENCE


async def test_zero_turns_the_limit_off(new_call) -> None:
    def watching() -> bool:
        return any(task.get_name() == "call:call-1:silence" for task in asyncio.all_tasks())

    for limit, watched in ((0, False), (60, True)):
        call = new_call(caller_silence_seconds=limit)
        call.tts.held[SECOND] = asyncio.Event()
        call.start()
        call.media.push(READY)
        await call.timeline.wait_for(call.timeline.tts("holding", SECOND))
        assert watching() is watched
        await call.aclose()
