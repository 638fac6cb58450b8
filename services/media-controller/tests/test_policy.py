"""The media plane's destination policy, per-call caps and rate limits (pure parts)."""

import pytest
from media_controller.policy import CallLimits, DestinationPolicy, PolicyRefusal, parse_networks
from media_controller.ratelimit import TokenBucket

LOCAL = DestinationPolicy(parse_networks("127.0.0.1/32"), frozenset())
CARRIER = DestinationPolicy(parse_networks("203.0.113.0/24, 2001:db8::/32"), frozenset())


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.2",
        "127.0.0.3",
        "255.255.255.255",
        "224.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "10.0.0.1",
        "::ffff:169.254.169.254",
        "ff02::1",
        "fe80::1",
        "::",
    ],
)
def test_local_policy_refuses_everything_but_its_gateway(ip: str) -> None:
    with pytest.raises(PolicyRefusal) as refused:
        LOCAL.check(ip, 40000)
    assert refused.value.code == "forbidden_destination"


def test_gateway_networks_are_allowed() -> None:
    LOCAL.check("127.0.0.1", 40000)
    CARRIER.check("203.0.113.7", 40000)
    CARRIER.check("2001:db8::5", 40000)
    CARRIER.check("::ffff:203.0.113.7", 40000)
    for ip in ("203.0.114.1", "127.0.0.1", "192.168.1.1"):
        assert not CARRIER.allows_source(ip)


def test_a_network_that_contains_forbidden_ranges_still_refuses_them() -> None:
    everything = DestinationPolicy(parse_networks("0.0.0.0/0"), frozenset())
    for ip in ("255.255.255.255", "224.0.0.1", "169.254.169.254", "0.0.0.0"):
        assert not everything.allows_source(ip)
    assert everything.allows_source("198.51.100.1")


def test_the_media_plane_itself_is_refused() -> None:
    import ipaddress

    own = ipaddress.ip_address("203.0.113.10")
    policy = DestinationPolicy(parse_networks("203.0.113.0/24"), frozenset({own}))
    with pytest.raises(PolicyRefusal, match="media plane itself"):
        policy.check("203.0.113.10", 40000)
    with pytest.raises(PolicyRefusal):
        LOCAL.check("127.0.0.1", 0)


def test_call_limits() -> None:
    limits = CallLimits(transports=2, producers=1, consumers=2)
    limits.check("transport", 1)
    with pytest.raises(PolicyRefusal) as refused:
        limits.check("transport", 2)
    assert refused.value.code == "limit_exceeded"
    with pytest.raises(PolicyRefusal):
        limits.check("producer", 1)


def test_token_bucket_allows_the_rate_and_refuses_the_flood() -> None:
    bucket = TokenBucket(rate=10, burst=5, stamp=0.0)
    assert [bucket.allow(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.allow(0.1) and not bucket.allow(0.1)
    allowed = sum(bucket.allow(1.0 + i / 1000) for i in range(1000))  # 1000 requests in one second
    assert 10 <= allowed <= 16 and bucket.refused > 900
