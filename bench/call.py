"""call.*: real calls through the full stack (Redis, mediasoup service + worker, media-controller,
call-api on gunicorn with the real Orchestrator: espeak TTS, pocketsphinx STT, the scripted dialog)
placed by callsim's GatewayCall with RTP both ways on loopback. call.barge_in's calls come in
through the nginx TLS gateway (infra/nginx's template, as gateway.connect's), as a telephony
gateway's would; call.turn's connect straight to gunicorn.

The caller says "say that again" (a global `repeat` intent of the scenario), so every reply
leads to another bot utterance and a call can go on for as many trials as needed."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

from voicebot_callsim.call import GatewayCall
from voicebot_stack.nginx import NginxGateway, make_certs

from bench import audio
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result

CALLER_TEXT = "say that again"
BARGE_TRIALS = (25, 6)  # full, --quick
TURNS = (35, 8)
STEP_TIMEOUT = 20.0


async def new_call(url: str, prefix: str, ca_file: str | None = None) -> GatewayCall:
    call = GatewayCall(url, f"{prefix}-{uuid.uuid4().hex[:10]}", {"contact_name": "Ann"}, ca_file=ca_file)
    await call.start()
    await call.setup_media()
    return call


async def end_call(call: GatewayCall | None) -> None:
    if call is not None:
        await call.terminate()


@scenario(
    "call.barge_in",
    "real call through nginx TLS: caller onset (RTP) → stop_audio at the gateway; → last bot packet",
)
async def call_barge_in(ctx: BenchContext) -> Result:
    trials = ctx.options.pick(*BARGE_TRIALS)
    stack = ctx.full()
    result = Result(
        info={
            "trials": trials,
            "caller_says": CALLER_TEXT,
            "stack": "full, 1 worker",
            "signalling": "nginx TLS (infra/nginx template, 1 nginx worker) → gunicorn",
        }
    )
    stop_audio = result.figure("onset_to_stop_audio", goal="p95 ≤ 100 ms")
    result.figure("onset_to_last_bot_packet", goal="p95 ≤ 120 ms")  # filled by the trials
    measured: list[tuple[float, float]] = []  # (caller onset, stop_audio at the gateway), monotonic s
    scratch = ctx.scratch("barge-in-nginx")
    certs = make_certs(scratch / "certs")
    started = time.perf_counter()
    with NginxGateway(scratch / "nginx", certs, [f"127.0.0.1:{stack.call_api.port}"]) as gateway:
        result.info["calls"] = await barge_in_trials(result, gateway.wss_url, str(certs.ca), trials, measured)
    # A WebSocket's access line is written when it closes: the calls' own, through the gateway.
    result.info["nginx_websockets"] = len(gateway.access_records())
    result.wall_s = time.perf_counter() - started
    for onset, stop in measured:
        stop_audio.add((stop - onset) * 1000)
    split_barge_ins(
        result,
        measured,
        list(stack.media.controller.log_records("barge-in detected")),
        list(stack.call_api.log_records("barge-in")),
    )
    return result


async def barge_in_trials(
    result: Result, url: str, ca_file: str | None, trials: int, measured: list[tuple[float, float]]
) -> int:
    """The caller talks over the bot `trials` times (a new call when one ends); the calls placed."""
    last_packet = result.figure("onset_to_last_bot_packet")
    packets = list(audio.packets(CALLER_TEXT))
    first_voiced, _ = audio.voiced_frames(audio.speech(CALLER_TEXT))
    rng = random.Random(11)
    call: GatewayCall | None = None
    calls = 0
    deadline = time.monotonic() + trials * 15 + 60
    try:
        while len(measured) < trials and time.monotonic() < deadline:
            if call is None or call.closed.is_set():
                await end_call(call)
                call, calls = await new_call(url, "bench-barge", ca_file), calls + 1
            since = len(call.events)
            try:
                play = await call.wait_event("play_audio", STEP_TIMEOUT, since)
                await asyncio.sleep(max(0.0, play.at + rng.uniform(0.5, 1.0) - time.monotonic()))
                assert call.voice is not None and call.legs is not None
                onset = await call.voice.say_packets(packets) + first_voiced * 0.020
                stop = await call.wait_event("stop_audio", 5, since)
                await call.legs.receiver.wait_quiet(0.3, 5)
            except (TimeoutError, ConnectionError) as exc:
                result.fail(f"trial {len(measured)}: {type(exc).__name__} {exc}")
                await end_call(call)
                call = None
                continue
            last_packet.add((call.legs.receiver.packets[-1].at - onset) * 1000)
            measured.append((onset, stop.at))
    finally:
        await end_call(call)
    return calls


def split_barge_ins(
    result: Result,
    measured: list[tuple[float, float]],
    detected: list[dict[str, Any]],
    handled: list[dict[str, Any]],
) -> None:
    """Split each onset → stop_audio by the controller's and call-api's log lines (monotonic ms)."""
    # Caller onset (its first packet sent) → the arrival of the controller's first voiced frame:
    # transit, the jitter buffer, decoding, the frames the VAD does not yet call voice.
    uplink = result.figure("onset_to_first_voiced_frame")
    run = result.figure("first_voiced_frame_to_deciding_frame")  # the frames the rule waits for
    work = result.figure("deciding_frame_to_event_queued")  # decode, VAD and detector of that frame
    to_call_api = result.figure("event_queued_to_call_api")  # controller WebSocket → Orchestrator
    in_call_api = result.figure("call_api_to_stop_audio_queued")
    to_gateway = result.figure("stop_audio_queued_to_gateway")  # uvicorn → the gateway's WebSocket
    unmatched = 0
    for onset, stop in measured:
        onset_ms, stop_ms = onset * 1000, stop * 1000
        decided = [r for r in detected if onset_ms - 100 < r.get("detected_ms", 0) < stop_ms]
        if not decided:
            unmatched += 1
            continue
        d = decided[0]
        h = next((r for r in handled if abs(r.get("detected_ms", 0) - d["detected_ms"]) < 0.1), None)
        if h is None:
            unmatched += 1
            continue
        uplink.add(d["onset_ms"] - onset_ms)
        run.add(d["detected_ms"] - d["onset_ms"])
        work.add(d["queued_at_ms"] - d["detected_ms"])
        to_call_api.add(h["received_at_ms"] - d["queued_at_ms"])
        in_call_api.add(h["stop_audio_at_ms"] - h["received_at_ms"])
        to_gateway.add(stop_ms - h["stop_audio_at_ms"])
    result.info["trials_without_timings"] = unmatched


@scenario("call.turn", "real call: end of caller speech → first bot RTP packet, split by stage")
async def call_turn(ctx: BenchContext) -> Result:
    turns = ctx.options.pick(*TURNS)
    stack = ctx.full()
    result = Result(
        info={
            "turns": turns,
            "caller_says": CALLER_TEXT,
            "stack": "full, 1 worker",
            "clock": "monotonic ms, shared by every process of the host",
        }
    )
    total = result.figure("speech_end_to_first_bot_packet")
    packets = list(audio.packets(CALLER_TEXT))
    _, last_voiced = audio.voiced_frames(audio.speech(CALLER_TEXT))
    measured: list[tuple[float, float]] = []  # (end of speech, first bot packet), monotonic s
    call: GatewayCall | None = None
    calls = 0
    started = time.perf_counter()
    deadline = time.monotonic() + turns * 12 + 60
    try:
        while len(measured) < turns and time.monotonic() < deadline:
            if call is None or call.closed.is_set():
                await end_call(call)
                call, calls = await new_call(stack.call_api.ws_url, "bench-turn"), calls + 1
            try:
                measured.append(await one_turn(call, packets, last_voiced))
            except (TimeoutError, ConnectionError) as exc:
                result.fail(f"turn {len(measured)}: {type(exc).__name__} {exc}")
                await end_call(call)
                call = None
        if call is not None:  # the last reply's "bot spoke" is logged once it finished playing
            await _quietly(call.wait_event("transcript", STEP_TIMEOUT, len(call.events) - 1, role="bot"))
    finally:
        await end_call(call)
        result.wall_s = time.perf_counter() - started
    result.info["calls"] = calls
    spoke = [r for r in stack.call_api.log_records("bot spoke") if r.get("speech_end_at_ms")]
    split_turns(result, measured, spoke, total)
    return result


async def one_turn(call: GatewayCall, packets: list[bytes], last_voiced: int) -> tuple[float, float]:
    """Wait for the bot to finish its utterance, speak, and time the reply's first RTP packet."""
    assert call.voice is not None and call.legs is not None
    await call.wait_event("play_audio", STEP_TIMEOUT, _last_index(call, "transcript"))
    await call.events.wait(
        lambda e: e.name == "transcript" and e.message["payload"].get("role") == "bot",
        STEP_TIMEOUT,
        _last_index(call, "play_audio"),
    )
    await asyncio.sleep(0.3)
    since = len(call.events)
    speech_end = await call.voice.say_packets(packets) + last_voiced * 0.020
    receiver = call.legs.receiver
    before = len(receiver.packets)  # the bot is silent until it replies
    await call.wait_event("play_audio", STEP_TIMEOUT, since)
    await receiver.wait_packets(before + 1, 2)
    first = next(p.at for p in receiver.packets[before:] if p.at > speech_end)
    return speech_end, first


def _last_index(call: GatewayCall, name: str) -> int:
    """Index of the last event of this name (0 if none): waits start from there."""
    for index in range(len(call.events) - 1, -1, -1):
        if call.events[index].name == name:
            return index
    return 0


async def _quietly(waiting: Any) -> None:
    try:
        await waiting
    except (TimeoutError, ConnectionError):
        pass


def split_turns(
    result: Result, measured: list[tuple[float, float]], spoke: list[dict[str, Any]], total: Any
) -> None:
    """Match each measured turn with its reply's "bot spoke" timings and split the total."""
    endpointing = result.figure("endpointing_wait")  # VAD hangover: the configured wait for silence
    stt = result.figure("stt_final")
    dialog = result.figure("dialog_first_text")
    tts = result.figure("tts_first_audio")
    overhead = result.figure("server_overhead", goal="p95 ≤ 25 ms")
    # The media VAD's end of speech − the source's (webrtcvad on the sent audio): transport + codec
    # + VAD judgement; informational (it is not a wait the server adds).
    uplink = result.figure("vad_end_offset")
    gaps = result.figure("overhead_orchestrator")  # between the provider stages
    downlink = result.figure("overhead_downlink")  # first audio → controller → Opus → RTP → gateway
    unmatched = 0
    for speech_end, first_packet in measured:
        end_ms, packet_ms = speech_end * 1000, first_packet * 1000
        candidates = [r for r in spoke if end_ms - 500 < r["speech_end_at_ms"] < packet_ms]
        total.add(packet_ms - end_ms)
        if not candidates:
            unmatched += 1
            continue
        r = min(candidates, key=lambda r: r["speech_end_at_ms"] - end_ms)
        vad_end = r.get("vad_speech_end_at_ms") or r["speech_end_at_ms"]
        stages = [r["stt_final_ms"] or 0.0, r["dialog_first_text_ms"] or 0.0, r["tts_first_audio_ms"] or 0.0]
        endpointing.add(r["speech_end_at_ms"] - vad_end)
        stt.add(stages[0])
        dialog.add(stages[1])
        tts.add(stages[2])
        uplink.add(vad_end - end_ms)
        gaps.add(r["first_audio_ms"] - sum(stages))
        downlink.add(packet_ms - r["first_audio_at_ms"])
        overhead.add(packet_ms - r["speech_end_at_ms"] - sum(stages))  # = orchestrator gaps + downlink
    result.info["turns_without_timings"] = unmatched
