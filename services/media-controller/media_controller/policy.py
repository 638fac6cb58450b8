"""Where a call's media may go, and how much of the media plane one call may hold.

A client's `connectPlainTransport` names where mediasoup will send the bot's RTP: that address must
fall inside the configured gateway networks (MEDIA_CONTROLLER_GATEWAY_NETWORKS, CIDRs), and is never
a broadcast, multicast, link-local, unspecified or loopback-of-another-host address outside them, nor
one of the media plane's own addresses (a loop). Refusal code: `forbidden_destination`.
Per-call caps keep one call from exhausting the RTP port range or amplifying its own packets;
refusal code: `limit_exceeded`. Both are documented in docs/media-signalling.md."""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ALWAYS_FORBIDDEN: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # unspecified / "this network"
        "255.255.255.255/32",  # limited broadcast
        "224.0.0.0/4",  # multicast
        "169.254.0.0/16",  # link-local, cloud metadata endpoints
        "240.0.0.0/4",  # reserved
        "::/128",
        "ff00::/8",  # multicast
        "fe80::/10",  # link-local
    )
)


class PolicyRefusal(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_networks(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


@dataclass(frozen=True)
class DestinationPolicy:
    gateway_networks: tuple[IPNetwork, ...]
    own_addresses: frozenset[IPAddress] = frozenset()

    def check(self, ip: str | IPAddress, port: int) -> None:
        """Raises PolicyRefusal(forbidden_destination) unless media may be sent to ip:port."""
        address = ipaddress.ip_address(str(ip))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d
        if not 1 <= port <= 65535:
            raise PolicyRefusal("forbidden_destination", f"port {port} is not a destination")
        if any(address in net for net in _ALWAYS_FORBIDDEN if net.version == address.version):
            raise PolicyRefusal("forbidden_destination", f"{address} is never a media destination")
        if address in self.own_addresses and not self._is_shared_loopback(address):
            raise PolicyRefusal("forbidden_destination", f"{address} is the media plane itself")
        if not any(address in net for net in self.gateway_networks if net.version == address.version):
            raise PolicyRefusal("forbidden_destination", f"{address} is outside the gateway networks")

    def allows_source(self, ip: str | IPAddress) -> bool:
        try:
            self.check(ip, 1)
        except PolicyRefusal:
            return False
        return True

    def _is_shared_loopback(self, address: IPAddress) -> bool:
        # On one host (the local stack, tests) gateway and media plane share 127.0.0.1; that is
        # only allowed when the operator listed it as a gateway network explicitly.
        return address.is_loopback and any(
            address in net and net.prefixlen == net.max_prefixlen for net in self.gateway_networks
        )


@dataclass(frozen=True)
class CallLimits:
    """What one call may hold. The gateway patterns need at most 2 transports, 1 producer (the
    caller) and 1 consumer (the bot's audio); WebRTC with separate send/receive transports too."""

    transports: int = 2
    producers: int = 1
    consumers: int = 2

    def check(self, kind: str, held: int) -> None:
        cap = {"transport": self.transports, "producer": self.producers, "consumer": self.consumers}[kind]
        if held >= cap:
            raise PolicyRefusal("limit_exceeded", f"a call may hold at most {cap} {kind}s")
