"""The corpus through the real stack: a callsim call whose "phone line" echoes the bot back, and the
corpus's disturbances as caller audio.

`EchoingLine` does what a phone line's hybrid does: the bot's audio, as the phone plays it out,
comes back on the caller's uplink `delay_ms` later and `attenuation_db` down (Opus decoded, scaled,
re-encoded by one continuous encoder). It is the caller's uplink while it runs (one packet every
20 ms, silence when there is nothing to echo), so stop the call's `CallerVoice` first. The playout
is timed by the bot's RTP timestamps, not by when packets happen to arrive, and a packet the uplink
is too late for is dropped, as a phone's jitter buffer would: the echo's delay stays the line's."""

import asyncio
import contextlib
import time
from collections import deque

import av
import numpy as np
from voicebot_callsim.rtp import RtpOpusReceiver, RtpOpusSender, opus_packets

from voicebot_corpus.levels import to_pcm

OPUS_RATE = 48000
OPUS_FRAME = 960  # 20 ms at 48 kHz
FRAME_SECONDS = 0.020
NEW_RUN_AFTER = 0.060  # a packet this much later than its timestamp says: a new playout run


def caller_pcm(audio: np.ndarray) -> bytes:
    """A corpus signal (float, 16 kHz) as the s16le PCM `GatewayCall.say(pcm, 16000)` sends."""
    return to_pcm(audio).tobytes()


class EchoingLine:
    def __init__(
        self,
        receiver: RtpOpusReceiver,
        sender: RtpOpusSender,
        delay_ms: float = 100.0,
        attenuation_db: float = 12.0,
    ) -> None:
        self.receiver = receiver
        self.sender = sender
        self.delay = delay_ms / 1000
        self.gain = 10 ** (-attenuation_db / 20)
        self.echoed = 0  # packets sent back
        self.dropped = 0  # echo packets the uplink was too late for
        self._due: deque[tuple[float, bytes]] = deque()  # (when it leaves, Opus payload)
        self._run_start: float | None = None  # monotonic time of RTP timestamp 0 in this run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="echoing-line")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        silence = opus_packets(bytes(OPUS_FRAME * 2), OPUS_RATE)[0]
        echo = _Echo(self.gain)
        taken = 0
        start = time.monotonic()
        slot = 0
        while True:
            for packet in self.receiver.packets[taken:]:
                leaves = self._playout_time(packet.at, packet.timestamp) + self.delay
                self._due.extend((leaves, payload) for payload in echo.of(packet.payload))
            taken = len(self.receiver.packets)
            now = time.monotonic()
            while len(self._due) > 1 and self._due[1][0] <= now:
                self._due.popleft()  # the uplink fell behind: only the latest due packet goes
                self.dropped += 1
            payload = silence
            if self._due and self._due[0][0] <= now:
                payload = self._due.popleft()[1]
                self.echoed += 1
            await self.sender.send_packets([payload], realtime=False)
            slot += 1
            wait = start + slot * FRAME_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    def _playout_time(self, arrived: float, timestamp: int) -> float:
        """When the phone plays this packet: its run's start + its RTP time (the earliest the
        arrivals allow; a packet is never early, only late)."""
        media_time = timestamp / OPUS_RATE
        if self._run_start is None or arrived - (self._run_start + media_time) > NEW_RUN_AFTER:
            self._run_start = arrived - media_time
        self._run_start = min(self._run_start, arrived - media_time)
        return self._run_start + media_time


class _Echo:
    """Bot Opus packets → the same audio `gain` down, re-encoded (one decoder, one encoder)."""

    def __init__(self, gain: float) -> None:
        self.gain = gain
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = OPUS_RATE
        self._decoder.layout = "mono"
        self._to_s16 = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        self._encoder = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = OPUS_RATE
        self._encoder.layout = "mono"
        self._encoder.format = "s16"
        self._encoder.bit_rate = 32000
        self._encoder.open()
        self._pending = np.zeros(0, dtype=np.int16)
        self._pts = 0

    def of(self, payload: bytes) -> list[bytes]:
        for decoded in self._decoder.decode(av.Packet(payload)):
            for frame in self._to_s16.resample(decoded):
                self._pending = np.concatenate(
                    [self._pending, frame.to_ndarray().reshape(-1).astype(np.int16)]
                )
        encoded: list[bytes] = []
        while len(self._pending) >= OPUS_FRAME:
            chunk, self._pending = self._pending[:OPUS_FRAME], self._pending[OPUS_FRAME:]
            scaled = np.round(chunk * self.gain).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(scaled.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = OPUS_RATE
            frame.pts = self._pts
            self._pts += OPUS_FRAME
            encoded += [bytes(p) for p in self._encoder.encode(frame)]
        return encoded
