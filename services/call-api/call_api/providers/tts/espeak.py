"""Offline TTS: espeak-ng, one subprocess per sentence, PCM streamed as the process writes it.

`espeak-ng --stdout` writes a WAV stream (22.05 kHz s16 mono for the built-in voices); the header
is stripped and the PCM passed on in the chunks the pipe delivers. Cancelling the consumer kills
the process — provided the consumer closes the stream it abandons, as every consumer of an async
generator should: `async with contextlib.aclosing(tts.synthesize(text)) as audio: ...`
(otherwise the process lives until the garbage collector closes the generator).
Text goes through stdin, never the command line, so it can't be taken as an option."""

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TypeVar

from call_api.providers.audio import WavHeaderError, parse_wav_header
from call_api.providers.base import ProviderError
from call_api.providers.deadline import bounded
from call_api.providers.text import split_sentences

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_VOICE = "en-us+f3"  # the female variant: pocketsphinx recognises it far better
ESPEAK_SAMPLE_RATE = 22050
_READ_SIZE = 4096
_MAX_HEADER = 4096


class EspeakTTS:
    name = "espeak"

    def __init__(
        self,
        voice: str = DEFAULT_VOICE,
        words_per_minute: int = 165,
        binary: str = "espeak-ng",
        timeout: float = 5.0,
    ) -> None:
        self.voice = voice
        self.sample_rate = ESPEAK_SAMPLE_RATE
        self.words_per_minute = words_per_minute
        self.binary = binary
        self.timeout = timeout  # the longest wait for the process's next output

    def _command(self) -> list[str]:
        path = shutil.which(self.binary)
        if path is None:
            raise ProviderError("tts", f"{self.binary} is not installed")
        return [path, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout"]

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        for sentence in split_sentences(text):
            async with contextlib.aclosing(self._sentence(sentence)) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def _sentence(self, sentence: str) -> AsyncGenerator[bytes, None]:
        started = time.perf_counter()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise ProviderError("tts", f"cannot start {self.binary}: {error}") from error
        assert process.stdin and process.stdout and process.stderr
        try:
            process.stdin.write(sentence.replace("\n", " ").encode() + b"\n")
            process.stdin.close()
            async for chunk in self._pcm(process.stdout):
                yield chunk
            code = await self._wait(process.wait())
            if code != 0:
                stderr = (await self._wait(process.stderr.read())).decode(errors="replace").strip()
                raise ProviderError("tts", f"{self.binary} exited with {code}: {stderr[:200]}")
            log.debug(
                "espeak sentence done",
                extra={"chars": len(sentence), "ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.shield(process.wait())

    async def _wait(self, step: Awaitable[T]) -> T:
        try:
            return await bounded(step, self.timeout)
        except TimeoutError as error:
            raise ProviderError("tts", f"{self.binary} stalled for {self.timeout}s") from error

    async def _pcm(self, stdout: asyncio.StreamReader) -> AsyncIterator[bytes]:
        """The PCM of one WAV stream: header stripped, chunks cut to whole samples."""
        head = b""
        while True:
            chunk = await self._wait(stdout.read(_READ_SIZE))
            if not chunk:
                return  # ended before any audio (the exit code tells why)
            head += chunk
            try:
                parsed = parse_wav_header(head)
            except WavHeaderError as error:
                raise ProviderError("tts", f"{self.binary} wrote no WAV: {error}") from error
            if parsed is not None:
                offset, rate = parsed
                if rate != self.sample_rate:
                    raise ProviderError(
                        "tts", f"voice {self.voice} produces {rate} Hz, not {self.sample_rate}"
                    )
                pending = head[offset:]
                break
            if len(head) > _MAX_HEADER:
                raise ProviderError("tts", f"{self.binary} wrote no WAV data chunk")
        while True:
            usable = len(pending) - len(pending) % 2
            if usable:
                yield pending[:usable]
                pending = pending[usable:]
            chunk = await self._wait(stdout.read(_READ_SIZE))
            if not chunk:
                return
            pending += chunk

    async def check(self) -> None:
        """Synthesize one short word with the configured voice: the binary runs, the voice exists."""
        audio = 0
        async for chunk in self.synthesize("ok"):
            audio += len(chunk)
        if audio == 0:
            raise ProviderError("tts", f"{self.binary} produced no audio for voice {self.voice}")
