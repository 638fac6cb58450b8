"""media.caller_tap: what one caller RTP packet costs the media-controller's tap, in process, no
stack: real RTP datagrams of the capacity bench's caller speech (Opus, G.711 μ-law) through a
`CallerTap` set up as a call's (the controller's VAD settings, a real `Outbox` taking the frames),
on a fake clock that moves 20 ms per packet (so the VAD's onsets and hangovers happen as in a
call). Per packet: the wall time of `on_datagram` (parse, reorder, decode, 16 kHz frames, VAD),
and the process CPU over a batch. The codecs alternate in rounds, so a change of the host's load
shows in both."""

from __future__ import annotations

import asyncio
import time

from media_controller.call_codecs import OPUS, PCMU, CodecSpec
from media_controller.caller_tap import CallerTap
from media_controller.outbox import Outbox
from media_controller.ratelimit import TokenBucket
from media_controller.rtp import build_rtp
from media_controller.settings import Vad
from media_controller.vad import SpeechDetector

from bench.capacity_load import caller_payloads
from bench.context import BenchContext
from bench.registry import scenario
from bench.results import Result

ROUNDS = (10, 4)  # full, --quick; each round: PACKETS_PER_ROUND packets of each codec
PACKETS_PER_ROUND = 1500  # 30 s of caller audio
SOURCE = ("127.0.0.1", 40000)
SSRC = 0x5EED_0001


class FakeClock:
    """Monotonic seconds that move only when told (20 ms per caller packet)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def datagrams(spec: CodecSpec, payloads: list[bytes], count: int) -> list[bytes]:
    return [
        build_rtp(spec.payload_type, n & 0xFFFF, n * spec.frame_samples, SSRC, payloads[n % len(payloads)])
        for n in range(count)
    ]


async def run_round(spec: CodecSpec, packets: list[bytes]) -> tuple[list[float], float, int]:
    """µs of wall time per packet, µs of process CPU per packet over the round, frames out."""
    vad = Vad()
    clock = FakeClock()
    outbox = Outbox(audio_frames=len(packets) + 1)  # call-api's queue, never full here
    outbox.attached = True
    tap = CallerTap(
        SpeechDetector(vad.aggressiveness, vad.onset_frames, vad.hangover_ms, vad.min_rms),
        jitter_depth=3,
        on_frame=outbox.audio,
        on_speech=lambda change: None,
        on_voice=lambda frame, at_ms, voiced, rms: None,  # the barge-in detector's hook, not measured here
        flood_guard=TokenBucket(rate=1e9, burst=1e9),
        clock=clock,
    )
    tap.expect(SOURCE, spec.payload_type, spec)
    wall_us: list[float] = []
    counter = time.perf_counter_ns
    cpu_start = time.process_time()
    try:
        for datagram in packets:
            clock.now += 0.020
            started = counter()
            tap.on_datagram(datagram, SOURCE)
            wall_us.append((counter() - started) / 1000)
        cpu_us = (time.process_time() - cpu_start) * 1e6 / len(packets)
        return wall_us, cpu_us, tap.frames
    finally:
        tap.close()
        outbox.close()


@scenario("media.caller_tap", "µs per caller RTP packet in the controller's tap (Opus, G.711), in process")
async def caller_tap(ctx: BenchContext) -> Result:
    rounds = ctx.options.pick(*ROUNDS)
    result = Result(info={"rounds": rounds, "packets_per_round": PACKETS_PER_ROUND})
    codecs = {"opus": OPUS, "pcmu": PCMU}
    packets = {
        name: datagrams(spec, caller_payloads(name), PACKETS_PER_ROUND) for name, spec in codecs.items()
    }
    cpu: dict[str, list[float]] = {name: [] for name in codecs}
    for _ in range(rounds):
        for name, spec in codecs.items():
            wall_us, cpu_us, frames = await run_round(spec, packets[name])
            if frames != PACKETS_PER_ROUND:
                result.fail(f"{name}: {frames} frames out of {PACKETS_PER_ROUND} packets")
            figure = result.figure(f"caller_tap_{name}", "µs/packet")
            for sample in wall_us:
                figure.add(sample)
            cpu[name].append(cpu_us)
            await asyncio.sleep(0)
    for name, values in cpu.items():
        result.set_value(f"caller_tap_{name}_cpu", sum(values) / len(values), "µs/packet")
    return result
