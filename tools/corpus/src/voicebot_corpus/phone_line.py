"""The corpus through the real stack: a callsim call whose "phone line" echoes the bot back, and the
corpus's disturbances as caller audio.

`EchoingLine` does what a phone line's hybrid does: every bot packet that reaches the gateway comes
back on the caller's uplink `delay_ms` later and `attenuation_db` down (Opus decoded, scaled,
re-encoded with one continuous encoder, one packet per 20 ms slot of the caller's voice)."""

import asyncio
import contextlib
import time

import av
import numpy as np
from voicebot_callsim.rtp import CallerVoice, RtpOpusReceiver

from voicebot_corpus.levels import to_pcm

OPUS_RATE = 48000
OPUS_FRAME = 960  # 20 ms at 48 kHz


def caller_pcm(audio: np.ndarray) -> bytes:
    """A corpus signal (float, 16 kHz) as the s16le PCM `GatewayCall.say(pcm, 16000)` sends."""
    return to_pcm(audio).tobytes()


class EchoingLine:
    def __init__(
        self,
        receiver: RtpOpusReceiver,
        voice: CallerVoice,
        delay_ms: float = 100.0,
        attenuation_db: float = 12.0,
    ) -> None:
        self.receiver = receiver
        self.voice = voice
        self.delay = delay_ms / 1000
        self.gain = 10 ** (-attenuation_db / 20)
        self.echoed = 0  # packets sent back
        self._task: asyncio.Task[None] | None = None
        self._queued: set[asyncio.Future[float]] = set()

    def start(self, from_packet: int = 0) -> None:
        """Echo the bot's packets from index `from_packet` of the receiver's on."""
        self._task = asyncio.create_task(self._run(from_packet), name="echoing-line")

    async def stop(self) -> None:
        for queued in (*self._queued, *([self._task] if self._task else [])):
            queued.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, index: int) -> None:
        decoder = av.CodecContext.create("opus", "r")
        decoder.sample_rate = OPUS_RATE
        decoder.layout = "mono"
        to_s16 = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
        encoder = _opus_encoder()
        pending = np.zeros(0, dtype=np.int16)
        pts = 0
        while True:
            await self.receiver.wait_packets(index + 1, within=3600)
            packet = self.receiver.packets[index]
            index += 1
            for decoded in decoder.decode(av.Packet(packet.payload)):
                for frame in to_s16.resample(decoded):
                    pending = np.concatenate([pending, frame.to_ndarray().reshape(-1).astype(np.int16)])
            encoded: list[bytes] = []
            while len(pending) >= OPUS_FRAME:
                chunk, pending = pending[:OPUS_FRAME], pending[OPUS_FRAME:]
                echo = np.round(chunk * self.gain).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(echo.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate = OPUS_RATE
                frame.pts = pts
                pts += OPUS_FRAME
                encoded += [bytes(p) for p in encoder.encode(frame)]
            wait = packet.at + self.delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the line's delay: the echo leaves when the line returns it
            for payload in encoded:
                # Queued, not awaited: the voice picks the next packet when it sends one, so
                # waiting for each to leave would leave every other 20 ms slot silent.
                queued = asyncio.ensure_future(self.voice.say_packets([payload]))
                self._queued.add(queued)
                queued.add_done_callback(self._queued.discard)
                self.echoed += 1


def _opus_encoder() -> av.CodecContext:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32000
    encoder.open()
    return encoder
