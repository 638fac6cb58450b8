"""Cloud TTS: OpenAI's POST /v1/audio/speech with response_format "pcm" (24 kHz s16le mono),
the body streamed chunk by chunk as it arrives.

check() is GET {base_url}/models: it costs nothing, proves the server is reachable and the key is
accepted (401/403 fail it), without synthesizing anything. The factory checks at every call start,
so a success is remembered for `check_ttl` seconds (a failure is not).

Failures (connect, HTTP status, nothing within the first-chunk / between-chunks deadlines, a body
cut off midway) raise ProviderError("tts", ...)."""

import logging
import time
from collections.abc import AsyncIterator

import aiohttp

from call_api.providers.base import ProviderError
from call_api.providers.http import raise_for_status, request_timeout, shared_session, within

log = logging.getLogger(__name__)

OPENAI_PCM_SAMPLE_RATE = 24000
_CHUNK = 4096


class OpenAITTS:
    name = "openai"
    sample_rate = OPENAI_PCM_SAMPLE_RATE

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str = "gpt-4o-mini-tts",
        voice: str = "alloy",
        connect_timeout: float = 3.0,
        first_chunk_timeout: float = 5.0,
        chunk_timeout: float = 5.0,
        check_ttl: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.check_ttl = check_ttl
        self._checked_at = -float("inf")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.voice = voice
        self.connect_timeout = connect_timeout
        self.first_chunk_timeout = first_chunk_timeout
        self.chunk_timeout = chunk_timeout
        self._session = session

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not text.strip():
            return
        session = self._session or shared_session()
        body = {"model": self.model, "input": text, "voice": self.voice, "response_format": "pcm"}
        started = time.perf_counter()
        request = session.post(
            f"{self.base_url}/audio/speech",
            json=body,
            headers=self._headers(),
            timeout=request_timeout(self.connect_timeout),
        )
        response = await within(request, self.first_chunk_timeout, "tts", "speech request")
        async with response:
            await raise_for_status(response, "tts", self.chunk_timeout)
            odd = b""
            first = True
            while True:
                chunk = await within(
                    response.content.readany(),
                    self.first_chunk_timeout if first else self.chunk_timeout,
                    "tts",
                    "waiting for audio",
                )
                if not chunk:
                    break  # complete: aiohttp raises (→ ProviderError) on a body cut short
                if first:
                    log.info(
                        "tts first chunk", extra={"ms": round((time.perf_counter() - started) * 1000, 1)}
                    )
                    first = False
                chunk = odd + chunk
                usable = len(chunk) - len(chunk) % 2
                odd = chunk[usable:]
                if usable:
                    yield chunk[:usable]

    async def check(self) -> None:
        if time.monotonic() - self._checked_at < self.check_ttl:
            return
        session = self._session or shared_session()
        request = session.get(
            f"{self.base_url}/models", headers=self._headers(), timeout=request_timeout(self.connect_timeout)
        )
        response = await within(request, self.first_chunk_timeout, "tts", "reachability check")
        async with response:
            await raise_for_status(response, "tts", self.chunk_timeout)
        if response.status != 200:
            raise ProviderError("tts", f"reachability check: HTTP {response.status}")
        self._checked_at = time.monotonic()
