"""MediaClient: one per process; opens media sessions on the media-controller over HTTP."""

import asyncio
import json
import logging
from typing import Any

import aiohttp
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from voicebot_protocol.media import CallCodec, CreateSession, MediaApiError, SessionInfo

from voicebot_mediaclient.errors import MediaCapacity, MediaRequestError, MediaUnavailable
from voicebot_mediaclient.headers import trace_headers
from voicebot_mediaclient.session import MediaSession

log = logging.getLogger(__name__)


class _ConnectFailed(MediaUnavailable):
    """The controller could not be reached at all: safe to retry an idempotent request."""


# A controller's refusal of a new session that another controller may not share.
_REFUSED_FOR_LOAD = ("capacity", "draining")


class MediaClient:
    def __init__(
        self,
        base_url: str,
        *,
        secret: str = "",
        request_timeout: float = 3.0,
        open_attempts: int = 3,
    ) -> None:
        """base_url: the controller used when a request names none (a call's MediaSession names the
        controller it was opened on). secret: the controllers' API secret
        (MEDIA_CONTROLLER_API_SECRET), sent as a Bearer token."""
        self.base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.request_timeout = request_timeout
        self.open_attempts = open_attempts
        self._http: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # No cap on connections: each call holds one for its events WebSocket, so aiohttp's
            # default of 100 made a worker's 101st call wait for a free one until its open timed out.
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            )
        return self._http

    async def request(
        self,
        method: str,
        path: str,
        trace_id: str | None,
        body: dict[str, Any] | None = None,
        *,
        base_url: str | None = None,
    ) -> dict[str, Any]:
        """JSON in, JSON out. Raises MediaUnavailable (unreachable, 5xx; MediaCapacity for a
        controller that is full or draining) or MediaRequestError (4xx)."""
        base_url = (base_url or self.base_url).rstrip("/")
        url = f"{base_url}{path}"
        try:
            async with self._client().request(
                method, url, json=body, headers={**trace_headers(trace_id), **self._auth}
            ) as resp:
                payload = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectionError as exc:
            raise _ConnectFailed(f"media-controller unreachable at {base_url}: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaUnavailable(f"media-controller {method} {path} failed: {exc!r}") from None
        if status < 300:
            if not payload:
                return {}
            try:
                answer = json.loads(payload)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise MediaUnavailable(
                    f"media-controller {method} {path}: unexpected answer {payload[:200]!r}"
                )
            return answer
        try:
            error = MediaApiError.model_validate_json(payload)
        except ValidationError:
            error = MediaApiError(code="media_error", message=f"HTTP {status}: {payload[:200]!r}")
        if error.code in _REFUSED_FOR_LOAD:
            raise MediaCapacity(error.code, error.message)
        # 502 media_error is the service refusing this request (e.g. a second connect): the call
        # goes on; only an unreachable media plane (503/504) is a media failure.
        if status in (503, 504) or error.code == "media_unavailable":
            raise MediaUnavailable(f"{error.code}: {error.message}")
        raise MediaRequestError(error.code, error.message)

    async def open_session(
        self, call_id: str, trace_id: str, codec: CallCodec = "opus", *, base_url: str | None = None
    ) -> MediaSession:
        """Create the call's media session (idempotent on the controller) on `base_url` (default:
        this client's) and open its events WebSocket. The session is pinned to the controller's own
        address when its answer carries one (SessionInfo.controller_url), else to `base_url`: every
        later request of the call goes there. `codec`: the call's audio codec."""
        asked = (base_url or self.base_url).rstrip("/")
        body = CreateSession(call_id=call_id, trace_id=trace_id, codec=codec).model_dump(exclude_none=True)
        async for attempt in self._retrying(_ConnectFailed):
            with attempt:
                answer = await self.request("POST", "/v1/sessions", trace_id, body, base_url=asked)
                info = SessionInfo.model_validate(answer)
        pinned = (info.controller_url or asked).rstrip("/")
        url = f"{pinned}/v1/sessions/{call_id}/events"
        try:
            ws = await self._client().ws_connect(
                url,
                headers={**trace_headers(trace_id), **self._auth},
                heartbeat=10.0,
                timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 409:  # another MediaSession of this call holds it: leave that one alone
                raise MediaRequestError(
                    "conflict", f"call {call_id} already has an open media session"
                ) from None
            await self._delete_quietly(call_id, trace_id, pinned)
            raise MediaUnavailable(f"cannot open the media events WebSocket: HTTP {exc.status}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._delete_quietly(call_id, trace_id, pinned)
            raise MediaUnavailable(f"cannot open the media events WebSocket: {exc!r}") from None
        log.info(
            "media session opened", extra={"call_id": call_id, "trace_id": trace_id, "controller": pinned}
        )
        return MediaSession(self, info, trace_id, ws, base_url=pinned)

    def _retrying(self, failure: type[Exception]) -> AsyncRetrying:
        """Up to `open_attempts` tries while a request fails with `failure`, backing off 0.1 s to 1 s."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.open_attempts),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception_type(failure),
            reraise=True,
        )

    async def _delete_quietly(self, call_id: str, trace_id: str, base_url: str | None = None) -> None:
        """DELETE the session, retried like open_session (it is idempotent; a controller that is
        briefly unreachable or overloaded must not keep the call's media): never raises."""
        try:
            async for attempt in self._retrying(MediaUnavailable):
                with attempt:
                    await self.request("DELETE", f"/v1/sessions/{call_id}", trace_id, base_url=base_url)
        except (MediaUnavailable, MediaRequestError) as exc:
            log.warning(
                "could not delete the media session",
                extra={"call_id": call_id, "trace_id": trace_id, "error": str(exc)},
            )

    async def healthy(self) -> bool:
        """The controller answers and is connected to the mediasoup service."""
        try:
            await self.request("GET", "/readyz", None)
        except (MediaUnavailable, MediaRequestError):
            return False
        return True

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        await asyncio.sleep(0)  # let aiohttp's connector finish closing its transports
