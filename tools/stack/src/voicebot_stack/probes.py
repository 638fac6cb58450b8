"""Readiness probes: each answers "is it serving?" once, quickly, and never raises."""

from __future__ import annotations

import socket
import ssl
import urllib.request


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 1.0) -> bool:
    """A 2xx answer; never through an HTTP proxy from the environment."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def redis_ping(port: int, timeout: float = 0.3) -> bool:
    """Redis answers (a password-protected one answers NOAUTH: serving all the same)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False
