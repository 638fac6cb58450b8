"""asyncio UDP endpoints: a protocol that hands datagrams to a callback."""

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

DatagramHandler = Callable[[bytes, tuple[str, int]], None]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: DatagramHandler) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable after the peer went away: not fatal for RTP
        log.debug("udp error", extra={"error": str(exc)})


async def open_udp(
    ip: str, on_datagram: DatagramHandler | None = None, remote: tuple[str, int] | None = None
) -> tuple[asyncio.DatagramTransport, int]:
    """A socket bound to (ip, free port); returns the transport and its local port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(on_datagram or (lambda data, addr: None)), local_addr=(ip, 0), remote_addr=remote
    )
    port = int(transport.get_extra_info("sockname")[1])
    return transport, port
