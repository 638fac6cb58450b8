"""A caller's timed script (YAML): what to say, when, and what to wait for."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicebot_callsim.audio import speech_pcm
from voicebot_callsim.call import GatewayCall, named

DEFAULT_SCRIPT = Path(__file__).with_name("scripts") / "appointment.yaml"
SPEECH_RATE = 16000


@dataclass
class BargeIn:
    text: str
    onset: float  # monotonic, first packet of the caller's speech
    stop_audio_ms: float | None = None  # onset → stop_audio at the gateway
    last_bot_packet_ms: float | None = None  # onset → the last bot RTP packet of the interrupted stream


@dataclass
class ScriptResult:
    barge_ins: list[BargeIn] = field(default_factory=list)
    said: list[tuple[float, str]] = field(default_factory=list)


def load_script(path: str | Path | None = None) -> dict[str, Any]:
    data = yaml.safe_load(Path(path or DEFAULT_SCRIPT).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ValueError(f"{path}: a script is a mapping with a list of steps")
    return data


async def run_script(call: GatewayCall, steps: list[dict[str, Any]], timeout: float = 30.0) -> ScriptResult:
    result = ScriptResult()
    bot_turns_seen = 0
    for step in steps:
        if "wait_bot" in step:
            bot_turns_seen = await _wait_bot_utterance(call, bot_turns_seen, timeout)
        elif "say" in step:
            onset = await call.say(speech_pcm(step["say"], SPEECH_RATE), SPEECH_RATE)
            result.said.append((onset, step["say"]))
        elif "barge_in" in step:
            result.barge_ins.append(
                await _barge_in(call, step["barge_in"], step.get("after_ms", 500), timeout)
            )
            result.said.append((result.barge_ins[-1].onset, step["barge_in"]))
        elif "expect" in step:
            await call.events.wait(named(step["expect"]), timeout)
        else:
            raise ValueError(f"unknown script step {step!r}")
    return result


async def _wait_bot_utterance(call: GatewayCall, seen: int, timeout: float) -> int:
    def bot_utterances() -> int:
        return sum(1 for e in call.events if e.name == "transcript" and e.message["payload"]["role"] == "bot")

    await call.events.wait(lambda _e: bot_utterances() > seen, timeout)
    return bot_utterances()


async def _barge_in(call: GatewayCall, text: str, after_ms: float, timeout: float) -> BargeIn:
    since = len(call.events)
    pcm = speech_pcm(text, SPEECH_RATE)
    play = await call.wait_event("play_audio", timeout, since)
    stream = play.message["payload"]
    await asyncio.sleep(max(0.0, play.at + after_ms / 1000 - time.monotonic()))
    onset = await call.say(pcm, SPEECH_RATE)
    barge = BargeIn(text, onset)
    stop = await call.wait_event("stop_audio", timeout, since)
    barge.stop_audio_ms = (stop.at - onset) * 1000
    assert call.legs is not None
    await call.legs.receiver.wait_quiet(0.3, timeout)
    bot_packets = [p for p in call.legs.receiver.packets if p.ssrc == stream.get("ssrc", p.ssrc)]
    if bot_packets:
        barge.last_bot_packet_ms = (bot_packets[-1].at - onset) * 1000
    return barge
