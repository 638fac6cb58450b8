"""What both legs of a call's media share: the call they serve, and the controller-owned
PlainTransport each of them sends or receives RTP on."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from media_controller.call_codecs import OPUS, CodecSpec
from media_controller.call_log import CallLogger
from media_controller.outbox import Outbox
from media_controller.settings import Settings
from media_controller.udp import DatagramHandler, open_udp

# A mediasoup service request for this call (its call_id added, sent in the call's trace).
CallRequest = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CallMedia:
    call_id: str
    request: CallRequest
    outbox: Outbox  # towards call-api: events and caller audio
    log: CallLogger
    settings: Settings
    codec: CodecSpec = OPUS  # the call's: the bot's producer sends in it


@dataclass(frozen=True)
class PlainLeg:
    """A controller-owned PlainTransport (mediasoup's side: ip, port) and our UDP socket facing it."""

    transport_id: str
    ip: str
    port: int
    udp: asyncio.DatagramTransport


async def open_plain_leg(call: CallMedia, on_datagram: DatagramHandler | None = None) -> PlainLeg:
    """A PlainTransport connected to a new UDP socket of ours: it sends to mediasoup's side (when
    `on_datagram` is None) or receives what mediasoup sends there."""
    listen_ip = call.settings.rtp_ip
    created = await call.request(
        "transport.createPlain", {"comedia": False, "rtcp_mux": True, "listen_ip": listen_ip}
    )
    remote = (str(created["ip"]), int(created["port"]))
    if on_datagram is None:
        udp, port = await open_udp(listen_ip, remote=remote)
    else:
        udp, port = await open_udp(listen_ip, on_datagram)
    try:
        await call.request(
            "transport.connectPlain", {"transport_id": created["transport_id"], "ip": listen_ip, "port": port}
        )
    except BaseException:
        udp.close()
        raise
    return PlainLeg(str(created["transport_id"]), remote[0], remote[1], udp)
