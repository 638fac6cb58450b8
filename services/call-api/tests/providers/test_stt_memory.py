"""What an STT session holds while the caller is silent: no pocketsphinx decoder (≈ 5.5 MB each;
27 MB with the full dictionary before), and no decoding — and the speech after the silence is
still heard whole."""

import numpy as np
from call_api.providers.base import SttSession
from call_api.providers.stt.pocketsphinx import PocketsphinxSTT
from call_api.providers.stt.whisper import WhisperSession
from voicebot_callsim.audio import speech_pcm

RATE = 16000
FRAME = 640  # 20 ms
PHRASES = ["yes please", "no thank you", "goodbye"]


def quiet_line(seconds: float) -> bytes:
    rng = np.random.default_rng(3)
    return rng.integers(-30, 30, int(seconds * RATE), dtype=np.int16).astype("<i2").tobytes()


async def feed_frames(session: SttSession, pcm: bytes) -> None:
    for start in range(0, len(pcm), FRAME):
        await session.feed(pcm[start : start + FRAME])


async def test_a_session_listening_to_silence_holds_no_decoder_until_speech() -> None:
    stt = PocketsphinxSTT()
    session = await stt.open(PHRASES)
    await feed_frames(session, quiet_line(5.0))
    assert not session.holds_decoder
    await feed_frames(session, speech_pcm("no thank you", RATE))
    assert session.holds_decoder
    assert (await session.finish()).text == "no thank you"
    assert not session.holds_decoder


async def test_silence_alone_gives_an_empty_transcript_without_a_decoder() -> None:
    stt = PocketsphinxSTT()
    session = await stt.open(PHRASES)
    await feed_frames(session, quiet_line(3.0))
    assert (await session.finish()).text == ""
    assert not session.holds_decoder


async def test_a_whisper_session_keeps_no_silence_beyond_its_preroll() -> None:
    session = WhisperSession(model=None, hotwords=None)  # type: ignore[arg-type]  # no model: never decodes
    await feed_frames(session, quiet_line(10.0))
    assert session.audio_bytes == 0  # 10 s of a quiet line: nothing buffered for the decoder
    await session.aclose()
