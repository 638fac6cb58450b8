"""sippy's RFC 3261 stack in its own thread, bridged to asyncio.

sippy is single-threaded around its event dispatcher (ED2): every sippy object is touched only in
that thread. asyncio → sippy goes through ED2.callFromThread; sippy → asyncio through
loop.call_soon_threadsafe. The transaction manager gates every request on the allow-list first."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventInfo,
    CCEventUpdate,
)
from sippy.Core.EventDispatcher import ED2
from sippy.MsgBody import MsgBody
from sippy.SipAddress import SipAddress
from sippy.SipConf import SipConf
from sippy.SipHeader import SipHeader
from sippy.SipReferTo import SipReferTo
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipURL import SipURL
from sippy.SipWWWAuthenticate import SipWWWAuthenticate
from sippy.UA import UA

from sip_gateway.access import address_allowed, digest_verdict
from sip_gateway.settings import Settings

log = logging.getLogger("sip_gateway.sip")
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"


@dataclass(frozen=True)
class IncomingCall:
    """What the asyncio side learns of a new INVITE (read in the sippy thread)."""

    sip_call_id: str
    from_user: str | None
    display_name: str | None
    to_user: str | None
    source: tuple[str, int]
    sdp: str | None
    headers: dict[str, str]  # lowercase name → value, for the configured X- and trace headers


class SipLeg:
    """One INVITE dialog: the sippy UA (sippy thread) and the asyncio queue of its events."""

    def __init__(self, stack: SipStack, ua: UA) -> None:
        self.stack = stack
        self.ua = ua
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    # sippy thread → asyncio
    def _emit(self, kind: str, data: Any = None) -> None:
        self.stack.loop.call_soon_threadsafe(self.events.put_nowait, (kind, data))

    def on_sip_event(self, event: Any, ua: UA) -> None:
        if isinstance(event, CCEventDisconnect):
            self._emit("disconnected", event.getOrigin() if hasattr(event, "getOrigin") else None)
        elif isinstance(event, CCEventFail):
            self._emit("disconnected", "failed")
        elif isinstance(event, CCEventInfo):
            body = event.getData()
            content_type = str(body.mtype) if body is not None else ""
            self._emit("info", (content_type, str(body.content) if body is not None else ""))
        elif isinstance(event, CCEventUpdate):
            body = event.getData()
            self._emit("reinvite", str(body.content) if body is not None else None)
        elif isinstance(event, CCEventConnect):
            self._emit("acked")

    def on_dead(self, *_: Any) -> None:
        self._emit("dead")

    # asyncio → sippy thread
    def answer(self, sdp: str) -> None:
        self.stack.call(lambda: self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp)))))

    def answer_update(self, sdp: str | None, status: tuple[int, str] = (200, "OK")) -> None:
        """The answer to a re-INVITE: 200 with the new SDP, or a failure (the call goes on)."""
        if sdp is None:
            self.stack.call(lambda: self.ua.recvEvent(CCEventFail(status)))
        else:
            self.stack.call(lambda: self.ua.recvEvent(CCEventConnect((200, "OK", MsgBody(sdp)))))

    def fail(self, code: int, reason: str) -> None:
        self.stack.call(lambda: self.ua.recvEvent(CCEventFail((code, reason))))

    def hang_up(self) -> None:
        self.stack.call(lambda: self.ua.recvEvent(CCEventDisconnect()))

    def refer(self, target: str, on_result: Callable[[int, str], None]) -> None:
        """A blind transfer inside the dialog; on_result(status, reason) runs in asyncio."""
        context = contextvars.copy_context()  # the call's log ids

        def send() -> None:
            req = self.ua.genRequest("REFER")
            req.appendHeader(SipHeader(body=SipReferTo(address=SipAddress(url=SipURL(target)))))

            def response(resp: Any) -> None:
                code, reason = resp.getSCode()
                if code >= 200:
                    self.stack.loop.call_soon_threadsafe(on_result, code, reason, context=context)

            self.ua.newTransaction(req, resp_cb=response)

        self.stack.call(send)


NewCall = Callable[[SipLeg, IncomingCall], None]


class GatedTransactionManager(SipTransactionManager):
    """sippy's transaction manager with the allow-list in front of every request, in-dialog too."""

    gateway: SipStack

    def incomingRequest(self, msg: Any, checksum: Any, tids: Any, server: Any) -> None:
        host = str(msg.getSource()[0])
        if not address_allowed(host, self.gateway.networks):
            if msg.getMethod() != "ACK":
                log.warning("refused: address not allowed", extra={"source": host, "method": msg.getMethod()})
                self.gateway.refused += 1
                resp = msg.genResponse(403, "Forbidden")
                self.transmitMsg(server, resp, resp.getHFBody("via").getTAddr(), checksum)
            return
        super().incomingRequest(msg, checksum, tids, server)


class SipMessageLog:
    """sippy's message logger interface, onto our JSON logs (every message at DEBUG)."""

    def write(self, *parts: Any, **_: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("".join(str(p) for p in parts))


class SipStack:
    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop, on_new_call: NewCall) -> None:
        self.settings = settings
        self.loop = loop
        self.on_new_call = on_new_call
        self.networks = settings.networks()
        self.refused = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sippy", daemon=True)
        self.config: dict[str, Any] = {}
        self.legs: set[SipLeg] = set()

    def start(self) -> None:
        SipConf.my_uaname = "voicebot-sip-gateway"
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the SIP stack did not start")

    def _run(self) -> None:
        # ED2 is created at import (in the main thread); this thread is the one that runs it.
        ED2.my_ident = threading.get_ident()
        SipConf.my_address = self.settings.sip_host
        SipConf.my_port = self.settings.sip_port
        self.config = {
            "_sip_address": self.settings.sip_host,
            "_sip_port": self.settings.sip_port,
            "_sip_logger": SipMessageLog(),
        }
        tm = GatedTransactionManager.__new__(GatedTransactionManager)
        tm.gateway = self
        SipTransactionManager.__init__(tm, self.config, self._recv_request)
        self.config["_sip_tm"] = tm
        self.ready.set()
        ED2.loop()

    def call(self, fn: Callable[[], None]) -> None:
        ED2.callFromThread(fn)

    def stop(self) -> None:
        ED2.callFromThread(ED2.breakLoop)
        self.thread.join(5)

    # sippy thread
    def _recv_request(self, req: Any, sip_t: Any) -> Any:
        method = req.getMethod()
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if method == "OPTIONS":
            resp = req.genResponse(200, "OK")
            resp.appendHeader(SipHeader(name="allow", bodys=ALLOW))
            return (resp, None, None)
        if method != "INVITE":
            return (req.genResponse(405, "Method Not Allowed"), None, None)
        refusal = self._authenticate(req)
        if refusal is not None:
            return (refusal, None, None)
        body = req.getBody()
        incoming = IncomingCall(
            sip_call_id=str(req.getHFBody("call-id")),
            from_user=req.getHFBody("from").getUrl().username,
            display_name=req.getHFBody("from").getUri().name,
            to_user=req.getRURI().username,
            source=tuple(req.getSource()[:2]),
            sdp=str(body.content) if body is not None else None,
            headers=self._interesting_headers(req),
        )
        ua = UA(self.config, credit_time=self.settings.max_call_seconds or None)
        ua.kaInterval = self.settings.keepalive_seconds
        ua.local_ua = None
        leg = SipLeg(self, ua)
        ua.event_cb = leg.on_sip_event
        ua.dead_cbs = (leg.on_dead,)
        self.legs.add(leg)
        self.loop.call_soon_threadsafe(self.on_new_call, leg, incoming)
        return ua.recvRequest(req, sip_t)

    def _authenticate(self, req: Any) -> Any | None:
        username, password = self.settings.digest_username, self.settings.digest_password
        if not username or password is None:
            return None
        verdict = digest_verdict(req, username, password.get_secret_value())
        if verdict == "ok":
            return None
        if verdict == "forbidden":
            log.warning("refused: bad digest credentials", extra={"source": req.getSource()[0]})
            return req.genResponse(403, "Forbidden")
        resp = req.genResponse(401, "Unauthorized")
        resp.appendHeader(SipHeader(body=SipWWWAuthenticate(realm=self.settings.digest_realm)))
        return resp

    def _interesting_headers(self, req: Any) -> dict[str, str]:
        names = [h.lower() for h in self.settings.var_header_names()]
        if self.settings.trace_id_header:
            names.append(self.settings.trace_id_header.lower())
        found = {}
        for name in names:
            headers = req.getHFs(name)
            if headers:
                found[name] = str(headers[0].getBody()).strip()
        return found
