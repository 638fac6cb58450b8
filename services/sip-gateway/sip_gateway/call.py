"""One SIP call from INVITE to the end: set-up (call-api, media leg, 200 OK), then the two event
streams mapped onto each other (docs/sip-gateway.md, "Mapping")."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from voicebot_protocol.client import (
    CallEnded,
    CallTerminated,
    Dtmf,
    DtmfPayload,
    ServerMessage,
    Transcript,
    Transfer,
    TransferResult,
    TransferResultPayload,
)
from voicebot_tracing import bind_call

from sip_gateway import dtmf_info, mapping
from sip_gateway.callapi import CallApiSession, CallRefused, MediaRequestFailed, open_call
from sip_gateway.identity import initial_vars, protocol_call_id, trace_id_for
from sip_gateway.media import MediaLeg, NoCommonCodec, open_media_leg, set_hold
from sip_gateway.sdp import OfferError, answer_direction, build_answer, negotiate, parse_offer
from sip_gateway.settings import Settings
from sip_gateway.sipstack import IncomingCall, SipLeg

log = logging.getLogger("sip_gateway.call")


class SetupFailed(Exception):
    def __init__(self, status: tuple[int, str], why: str) -> None:
        super().__init__(why)
        self.status = status


class Call:
    def __init__(self, settings: Settings, leg: SipLeg, incoming: IncomingCall) -> None:
        self.settings = settings
        self.leg = leg
        self.incoming = incoming
        self.call_id = protocol_call_id(incoming.sip_call_id)
        self.trace_id = trace_id_for(settings, incoming)
        self.api: CallApiSession | None = None
        self.media: MediaLeg | None = None
        self.sdp_version = 1
        self.invite_at = time.monotonic()
        self.background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        with bind_call(self.call_id, self.trace_id):
            log.info(
                "invite",
                extra={
                    "event": "invite",
                    "sip_call_id": self.incoming.sip_call_id,
                    "source": self.incoming.source,
                },
            )
            try:
                if await self._set_up():
                    await self._converse()
            except Exception:
                log.exception("call failed")
                self.leg.hang_up()
            finally:
                if self.api is not None:
                    await self.api.close()
                log.info("call over", extra={"event": "call_over"})

    # --- set-up ----------------------------------------------------------------------------------

    async def _set_up(self) -> bool:
        setup = asyncio.create_task(asyncio.wait_for(self._answer(), self.settings.setup_timeout_seconds))
        while True:
            sip_event = asyncio.create_task(self.leg.events.get())
            done, _ = await asyncio.wait({setup, sip_event}, return_when=asyncio.FIRST_COMPLETED)
            if sip_event in done:
                kind, _data = sip_event.result()
                if kind in ("disconnected", "dead"):  # CANCEL before the answer
                    log.info("cancelled by the caller", extra={"event": "cancelled"})
                    setup.cancel()
                    await asyncio.gather(setup, return_exceptions=True)
                    await self._terminate()
                    return False
                continue
            sip_event.cancel()
            try:
                sdp = setup.result()
            except SetupFailed as failure:
                return self._refuse(failure.status, str(failure))
            except CallRefused as refusal:
                status = mapping.sip_status_for_failure(refusal.code) if refusal.code else mapping.UNREACHABLE
                return self._refuse(status, refusal.reason)
            except (TimeoutError, MediaRequestFailed) as error:
                await self._terminate()
                return self._refuse(mapping.UNREACHABLE, f"set-up failed: {error!r}")
            self.leg.answer(sdp)
            log.info(
                "answered",
                extra={
                    "event": "answered",
                    "codec": self.media.choice.codec.name if self.media else None,
                    "rtp_to": self.media.remote if self.media else None,
                    "media_at": (self.media.ip, self.media.port) if self.media else None,
                    "setup_ms": round((time.monotonic() - self.invite_at) * 1000, 1),
                },
            )
            return True

    def _refuse(self, status: tuple[int, str], why: str) -> bool:
        log.warning("refused", extra={"event": "refused", "status": status[0], "why": why})
        self.leg.fail(*status)
        return False

    async def _answer(self) -> str:
        if not self.incoming.sdp:
            raise SetupFailed((488, "Not Acceptable Here"), "no SDP offer (late offer is not supported)")
        try:
            offer = parse_offer(self.incoming.sdp)
        except OfferError as error:
            raise SetupFailed(mapping.NO_COMMON_CODEC, str(error)) from error
        choice = negotiate(offer)  # before bothering call-api
        if choice is None:
            raise SetupFailed(mapping.NO_COMMON_CODEC, "no common codec")
        variables = initial_vars(self.settings, self.incoming)
        # call_start.codec: the bot's RTP is sent in the codec chosen from the offer.
        self.api = await open_call(self.settings, self.call_id, self.trace_id, variables, choice.codec.name)
        try:
            self.media = await open_media_leg(self.api, offer, choice)
        except NoCommonCodec as error:
            await self._terminate()
            raise SetupFailed(mapping.NO_COMMON_CODEC, "no codec in common with the media plane") from error
        return build_answer(
            self.media.choice, self.media.ip, self.media.port, direction=answer_direction(offer.direction)
        )

    async def _terminate(self) -> None:
        if self.api is not None:
            await self.api.send(CallTerminated())

    # --- the call ----------------------------------------------------------------------------------

    async def _converse(self) -> None:
        assert self.api is not None
        sip_event = asyncio.create_task(self.leg.events.get())
        server_event = asyncio.create_task(self.api.events.get())
        try:
            while True:
                done, _ = await asyncio.wait({sip_event, server_event}, return_when=asyncio.FIRST_COMPLETED)
                if sip_event in done:
                    kind, data = sip_event.result()
                    if not await self._on_sip(kind, data):
                        return
                    sip_event = asyncio.create_task(self.leg.events.get())
                if server_event in done:
                    if not await self._on_server(server_event.result()):
                        return
                    server_event = asyncio.create_task(self.api.events.get())
        finally:
            sip_event.cancel()
            server_event.cancel()

    async def _on_sip(self, kind: str, data: Any) -> bool:
        assert self.api is not None
        if kind in ("disconnected", "dead"):
            log.info("the caller hung up", extra={"event": "caller_bye", "origin": data})
            await self._terminate()
            return False
        if kind == "info":
            content_type, body = data
            digit = dtmf_info.parse(content_type, body)
            if digit is not None:
                log.info("dtmf (SIP INFO)", extra={"event": "dtmf", "digit": digit[0]})
                await self.api.send(Dtmf(payload=DtmfPayload(digit=digit[0], duration_ms=digit[1])))  # type: ignore[arg-type]
        elif kind == "reinvite":
            await self._on_reinvite(data)
        return True

    async def _on_reinvite(self, sdp: str | None) -> None:
        assert self.api is not None and self.media is not None
        try:
            offer = parse_offer(sdp) if sdp else None
        except OfferError:
            offer = None
        same_codec = offer is not None and any(
            f.payload_type == self.media.choice.payload_type for f in offer.formats
        )
        moved = offer is not None and not offer.on_hold and (offer.address, offer.port) != self.media.remote
        if offer is None or not same_codec or moved:
            # A PlainTransport connects once: a new address or codec is refused, the call goes on.
            log.warning("re-INVITE refused", extra={"event": "reinvite_refused", "moved": moved})
            self.leg.answer_update(None, mapping.NO_COMMON_CODEC)
            return
        await set_hold(self.api, self.media, offer.on_hold)
        self.sdp_version += 1
        log.info("re-INVITE", extra={"event": "reinvite", "hold": offer.on_hold})
        direction = (
            "inactive"
            if offer.on_hold and offer.direction == "inactive"
            else answer_direction(offer.direction)
        )
        if offer.on_hold and offer.direction == "sendrecv":  # c=0.0.0.0 hold (RFC 2543 style)
            direction = "recvonly"
        answer = build_answer(
            self.media.choice, self.media.ip, self.media.port, direction=direction, version=self.sdp_version
        )
        self.leg.answer_update(answer)

    async def _on_server(self, message: ServerMessage | None) -> bool:
        assert self.api is not None
        if message is None:
            log.warning("call-api closed the call", extra={"event": "callapi_closed"})
            self.leg.hang_up()
            return False
        if isinstance(message, CallEnded):
            log.info("the bot hung up", extra={"event": "bot_bye", "code": message.code})
            self.leg.hang_up()
            return False
        if isinstance(message, Transfer):
            self._transfer(message.payload.target)
        elif isinstance(message, Transcript):
            # Both sides of the dialog in the gateway's log (what `make demo-sip` prints).
            extra = {"event": "transcript", "role": message.payload.role, "text": message.payload.text}
            log.info("transcript", extra={**extra, "interrupted": message.payload.interrupted})
        return True

    def _transfer(self, target: str) -> None:
        assert self.api is not None
        api = self.api
        log.info("REFER", extra={"event": "refer", "target": target})
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None
        reported = False

        def report(status: int | None, reason: str) -> None:
            nonlocal reported
            if reported:
                return
            reported = True
            if timer is not None:
                timer.cancel()
            ok = status is not None and 200 <= status < 300
            log.info("REFER answered", extra={"event": "refer_result", "status": status, "ok": ok})
            payload = TransferResultPayload(ok=ok, status=status, reason=reason[:200])
            task = loop.create_task(api.send(TransferResult(payload=payload)))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

        timer = loop.call_later(self.settings.refer_timeout_seconds, report, None, "no answer to REFER")
        self.leg.refer(target, report)
