"""All open sessions of this controller, by call_id, and the routing of service events to them."""

import asyncio
import logging
from collections.abc import Callable

from voicebot_protocol.media import CallCodec
from voicebot_protocol.media_service import ServiceNotification
from voicebot_tracing import heap

from media_controller.errors import at_capacity, draining
from media_controller.service import MediasoupService
from media_controller.session import Session, SessionState
from media_controller.settings import Settings

log = logging.getLogger(__name__)


class Sessions:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sessions: dict[str, Session] = {}
        self._opening: dict[str, asyncio.Future[Session]] = {}
        self._closing: set[asyncio.Task[None]] = set()  # keeps orphan closes referenced
        self.draining = False  # set by the drain (SIGTERM): new sessions are refused
        self.own_url: str | None = None  # this controller's advertised base URL (SessionInfo)
        self.on_change: Callable[[], None] = lambda: None  # the count changed (the registry)
        self._idle = asyncio.Event()  # set whenever no session is open (the drain waits on it)
        self._idle.set()
        link = settings.service
        self.service = MediasoupService(
            link.url,
            link.secret,
            on_notification=self.on_notification,
            on_down=self.on_service_down,
            timeout=link.timeout,
            attempts=link.attempts,
            reconnect_max_delay=link.reconnect_max_delay,
        )

    def get(self, call_id: str) -> Session | None:
        return self._sessions.get(call_id)

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(self, call_id: str, trace_id: str | None, codec: CallCodec = "opus") -> Session:
        """Idempotent: a call that already has a live session gets it back (concurrent opens share
        one; the codec is the first open's)."""
        existing = self._sessions.get(call_id)
        if existing is not None and existing.state is SessionState.FAILED:
            await self.close(call_id)  # its media plane is gone: a retry gets a fresh session
        elif existing is not None:
            return existing
        pending = self._opening.get(call_id)
        if pending is not None:
            return await asyncio.shield(pending)
        if self.draining:
            raise draining("this media-controller is draining: it takes no new calls")
        if len(self._sessions) >= self.settings.policy.max_sessions:
            # Each call holds RTP ports and CPU: past the cap new calls fail fast (and go to another
            # controller) instead of degrading every call's audio.
            raise at_capacity(f"this media-controller is at capacity ({len(self._sessions)} calls)")
        future: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        self._opening[call_id] = future
        session = Session(
            call_id,
            trace_id,
            service=self.service,
            settings=self.settings,
            owner_of=self.owner_of,
            codec=codec,
        )
        session.on_orphaned = self._close_orphan
        try:
            self._sessions[call_id] = session  # visible to failure routing while it opens
            self._idle.clear()
            self.on_change()
            await session.open()
        except BaseException as exc:
            self._forget(call_id)
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # mark retrieved: concurrent openers (if any) get it too
            raise
        else:
            future.set_result(session)
            return session
        finally:
            self._opening.pop(call_id, None)

    def _forget(self, call_id: str) -> Session | None:
        session = self._sessions.pop(call_id, None)
        if not self._sessions:
            self._idle.set()
            # A burst's reference cycles and the C memory of its codecs and detectors go back to
            # the kernel (docs/architecture.md, "Memory").
            heap.collect_and_trim_soon(self._idle.is_set)
        elif session is not None:
            heap.trim_soon()  # what the call freed, even if one call stays open for hours
        if session is not None:
            self.on_change()
        return session

    async def wait_idle(self, timeout: float) -> bool:
        """True once no session is open, False if some still are after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self, call_id: str) -> bool:
        session = self._forget(call_id)
        if session is None:
            return False
        await session.close()
        return True

    async def close_all(self) -> None:
        await asyncio.gather(
            *(self.close(call_id) for call_id in list(self._sessions)), return_exceptions=True
        )

    def owner_of(self, object_id: str) -> str | None:
        for call_id, session in self._sessions.items():
            if session.ledger.owns(object_id):
                return call_id
        return None

    async def _close_quietly(self, call_id: str) -> None:
        await self.close(call_id)

    def _close_orphan(self, session: Session) -> None:
        if self._sessions.get(session.call_id) is session:
            task = asyncio.create_task(self._close_quietly(session.call_id))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # --- from the mediasoup service -------------------------------------------------------------

    def on_service_down(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            session.fail(f"media_service_lost: {reason}")

    def on_notification(self, notification: ServiceNotification) -> None:
        data = notification.data
        session = self._sessions.get(str(data.get("call_id", "")))
        if notification.notification == "session_failed":
            if session is not None:
                session.fail(f"session_failed: {data.get('reason', 'worker died')}")
            else:
                log.warning("session_failed for an unknown call", extra={"data": data})
        elif notification.notification == "barge_in_detected":
            if session is not None:
                at_ms = data.get("at_ms")
                session.caller.audio_level_barge_in(float(at_ms) if isinstance(at_ms, int | float) else None)
        elif notification.notification == "worker_died":
            pid = data.get("pid")
            for session in list(self._sessions.values()):
                if pid is not None and session.worker_pid == pid:
                    session.fail(f"worker_died: mediasoup worker {pid} died")
            log.critical(
                "mediasoup worker died", extra={"pid": pid, "replacement_pid": data.get("replacement_pid")}
            )
        else:
            log.info("ignoring service notification", extra={"notification": notification.notification})
