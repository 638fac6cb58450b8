"""One pacing clock for every stream of the process, and bot audio encoded once per distinct audio."""

import asyncio

import av
import numpy as np
import pytest
from media_controller.call_codecs import OPUS, PCMU
from media_controller.caller_tap import CallerTap
from media_controller.g711 import G711Encoder
from media_controller.pacing import PacingClock
from media_controller.playback import Playback, Player
from media_controller.rtp import build_rtp
from media_controller.rtp_sender import RtpSender
from media_controller.shared_encoding import SLICE_SECONDS, SharedEncoding, Slice
from media_controller.udp import open_udp
from media_controller.vad import SpeechDetector

from tests.support.media import RtpOpusReceiver

RATE = 16000


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 6000).astype(np.int16).tobytes()


async def test_many_streams_share_one_clock_and_its_wakeups() -> None:
    clock = PacingClock(asyncio.get_running_loop())
    encoding = SharedEncoding()
    receiver = await RtpOpusReceiver.open()
    finished: list[Playback] = []
    all_done = asyncio.Event()
    streams = 40
    players: list[Player] = []

    def on_finished(playback: Playback) -> None:
        finished.append(playback)
        if len(finished) == streams:
            all_done.set()

    try:
        for n in range(streams):
            udp, _ = await open_udp("127.0.0.1", remote=("127.0.0.1", receiver.port))
            player = Player(
                RtpSender(udp, 100, 0x1000 + n),
                bitrate=32000,
                on_started=lambda playback: None,
                on_finished=on_finished,
                clock=clock,
                encoding=encoding,
            )
            players.append(player)
            player.start(f"s{n}", RATE)
            player.feed(tone(0.5))
            player.end(f"s{n}")
        async with asyncio.timeout(30):
            await all_done.wait()
        sent = sum(p.packets_sent for p in finished)
        per_stream = {p.packets_sent for p in finished}
        assert len(per_stream) == 1 and 25 <= per_stream.pop() <= 27  # 0.5 s (+ the codec's delay)
        # A timer per stream would have woken once per packet; the shared clock sends the
        # packets that are due together in one pass.
        assert clock.passes < sent / 4
        assert clock.pending == 0
        assert encoding.encoded < streams and len(encoding) == 0  # one audio, encoded once, then forgotten
        await receiver.wait_packets(sent, within=10)
        assert {p.ssrc for p in receiver.packets} == {0x1000 + n for n in range(streams)}
    finally:
        for player in players:
            player.close()
        receiver.close()


def _slices(pcm: bytes) -> list[bytes]:
    size = int(RATE * SLICE_SECONDS) * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def test_a_burst_of_caller_packets_does_not_hold_back_the_due_bot_packets() -> None:
    """asyncio runs an iteration's I/O callbacks before the timers that fell due meanwhile: the
    caller tap makes the pacing clock's due pass before each packet it takes."""
    loop = asyncio.get_running_loop()
    clock = PacingClock(loop)
    sent_at: list[float] = []
    clock.schedule(loop.time() + 0.005, lambda now: sent_at.append(now) or None)  # a bot packet due
    source = ("127.0.0.1", 40000)
    tap = CallerTap(
        SpeechDetector(), jitter_depth=3, on_frame=lambda f: None, on_speech=lambda c: None, pacing=clock
    )
    tap.expect(source, PCMU.payload_type, PCMU)
    during_burst: list[int] = []
    burst_done = asyncio.Event()

    def burst() -> None:  # caller packets back to back for 20 ms, all in one loop callback
        until, sequence = loop.time() + 0.020, 0
        while loop.time() < until:
            tap.on_datagram(build_rtp(PCMU.payload_type, sequence, 160 * sequence, 1, bytes(160)), source)
            sequence += 1
        during_burst.append(len(sent_at))
        burst_done.set()

    loop.call_soon(burst)
    async with asyncio.timeout(5):
        await burst_done.wait()
    assert during_burst == [1]  # the bot packet went out within the burst, not after it


@pytest.mark.parametrize("codec", [OPUS, PCMU])
def test_the_same_audio_is_encoded_once_and_identically(codec: object) -> None:
    spec = OPUS if codec is OPUS else PCMU
    encoding = SharedEncoding()
    pcm = tone(1.0)

    played: dict[str, list[Slice]] = {}

    def play(owner: str, audio: bytes) -> list[bytes]:
        chain = encoding.start(f"{spec.name}/{RATE}")
        packets: list[bytes] = []
        pieces = _slices(audio)
        for index, piece in enumerate(pieces):
            make = lambda: spec.encoder(RATE, 32000)  # noqa: E731
            chain = encoding.next(chain, piece, make, owner, final=index == len(pieces) - 1)
            played.setdefault(owner, []).append(chain)
            packets += chain.packets
        return packets

    first = play("a", pcm)
    encoded = encoding.encoded
    assert encoded == len(_slices(pcm))
    second = play("b", pcm)
    assert second == first and encoding.encoded == encoded  # nothing encoded again
    fresh = spec.encoder(RATE, 32000)
    alone = [p for piece in _slices(pcm) for p in fresh.encode(piece)] + fresh.flush()
    assert first == alone  # the same packets as an encoder of its own

    other = pcm[: len(pcm) // 2] + tone(0.5, hz=660)
    third = play("c", other)
    assert encoding.encoded > encoded  # the different half is encoded
    assert abs(len(third) - len(first)) <= 1 and third[:5] == first[:5]  # a fresh encoder/resampler
    for owner in ("a", "b"):
        encoding.leave(played[owner], owner)
    assert len(encoding) == len(played["c"])  # only what "c" still plays is kept ...
    encoding.leave(played["c"], "c")
    assert len(encoding) == 0  # ... and no bot audio outlives the streams that played it


def test_g711_tables_give_pyav_s_own_codes() -> None:
    samples = (np.random.default_rng(7).standard_normal(160 * 20) * 8000).clip(-32768, 32767)
    pcm = samples.astype(np.int16).tobytes()
    for codec in ("pcm_mulaw", "pcm_alaw"):
        context = av.CodecContext.create(codec, "w")
        context.sample_rate, context.layout, context.format = 8000, "mono", "s16"
        context.open()
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 8000, 0
        reference = b"".join(bytes(p) for p in context.encode(frame))
        ours = G711Encoder(codec, 8000).encode(pcm)  # type: ignore[arg-type]
        assert b"".join(ours) == reference and {len(p) for p in ours} == {160}
