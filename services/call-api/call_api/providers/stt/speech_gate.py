"""Holds an STT session's audio until it sounds like speech, so a call that is listening to
silence holds a few kilobytes instead of a decoder (≈ 5 MB) or seconds of PCM.

pocketsphinx's WebRTC VAD judges each 30 ms frame, in its most permissive mode (the media
controller's VAD, stricter, decides when the caller talks; this one only has to avoid holding a
decoder for silence). The VAD calls its first few frames speech whatever they hold (it is still
adapting), so those only count as "maybe": they never open the gate, but an utterance held when
the session ends (a short "no" right at the start) is still decoded (`maybe_speech`). Until the
gate opens it keeps the last `preroll` seconds; when it opens it hands them on, and everything
after passes straight through."""

import collections

import pocketsphinx

PREROLL_SECONDS = 1.0
VAD_WARMUP_FRAMES = 8  # measured: the VAD calls frames 0–5 speech even on digital silence


class SpeechGate:
    def __init__(self, sample_rate: int, preroll_seconds: float = PREROLL_SECONDS) -> None:
        self._vad = pocketsphinx.Vad(pocketsphinx.Vad.LOOSE, sample_rate)
        self._frame_bytes: int = self._vad.frame_bytes
        self._keep_bytes = max(self._frame_bytes, int(preroll_seconds * sample_rate) * 2)
        self._held = bytearray()
        self._verdicts: collections.deque[bool] = collections.deque()  # one per judged frame held
        self._judged = 0  # frames judged so far
        self.opened = False

    def push(self, pcm: bytes) -> bytes:
        """PCM s16le mono; returns what to pass on (b"" while it only sounds like silence)."""
        if self.opened:
            return pcm
        self._held += pcm
        while len(self._held) - len(self._verdicts) * self._frame_bytes >= self._frame_bytes:
            start = len(self._verdicts) * self._frame_bytes
            voiced = self._vad.is_speech(bytes(self._held[start : start + self._frame_bytes]))
            self._verdicts.append(voiced)
            self._judged += 1
            if voiced and self._judged > VAD_WARMUP_FRAMES:
                self.opened = True
                return self.take_held()
        while len(self._held) > self._keep_bytes and self._verdicts:  # judged frames go, oldest first
            del self._held[: self._frame_bytes]
            self._verdicts.popleft()
        return b""

    @property
    def held_bytes(self) -> int:
        return len(self._held)

    @property
    def maybe_speech(self) -> bool:
        """Some audio still held was called speech (during the VAD's warm-up)."""
        return any(self._verdicts)

    def take_held(self) -> bytes:
        held = bytes(self._held)
        self._held = bytearray()
        self._verdicts.clear()
        return held
