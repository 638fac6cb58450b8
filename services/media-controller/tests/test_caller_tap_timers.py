"""The caller tap's end-of-speech clock: while the caller speaks it keeps one timer (arming a new
one for every packet cost a timer handle and a heap push per caller packet, at 50 packets a second
per call), and speech still ends by the clock once their audio stops."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from media_controller.call_codecs import PCMU
from media_controller.caller_tap import CallerTap
from media_controller.rtp import build_rtp
from media_controller.vad import SpeechChange, SpeechDetector

SOURCE = ("127.0.0.1", 40000)
PACKETS = 30


class AlwaysVoiced(SpeechDetector):
    """Every frame is voiced: the caller speaks until their audio stops."""

    def feed(self, frame: bytes, at_ms: float, sample_rate: int = 16000) -> SpeechChange | None:
        self.last_voiced = True
        self._last_voiced_end_ms = at_ms
        if not self.speaking:
            self.speaking = True
            return SpeechChange(True, at_ms, at_ms)
        return None


async def test_one_silence_timer_while_the_caller_speaks_and_speech_ends_when_audio_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changes: list[SpeechChange] = []
    ended = asyncio.Event()

    def on_speech(change: SpeechChange) -> None:
        changes.append(change)
        if not change.speaking:
            ended.set()

    tap = CallerTap(
        AlwaysVoiced(hangover_ms=100), jitter_depth=3, on_frame=lambda f: None, on_speech=on_speech
    )
    tap.expect(SOURCE, PCMU.payload_type, PCMU)
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        armed.append(when)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counting_call_at)  # call_later goes through it too
    try:
        for n in range(PACKETS):
            tap.on_datagram(
                build_rtp(PCMU.payload_type, 100 + n, 160 * n, 0x1234, bytes([0xFF]) * 160), SOURCE
            )
        assert [change.speaking for change in changes] == [True]
        assert len(armed) == 1, f"{len(armed)} timers armed for {PACKETS} caller packets"
        await asyncio.wait_for(ended.wait(), 10)  # no more audio: the clock ends the speech
        assert [change.speaking for change in changes] == [True, False]
    finally:
        monkeypatch.undo()
        tap.close()
