"""The real nginx gateway (infra/nginx) with TLS on free loopback ports, for tests and benchmarks.

certs = make_certs(tmp_path / "certs")
with NginxGateway(tmp_path / "nginx", certs, ["127.0.0.1:8001", "127.0.0.1:8002"]) as gw:
    gw.wss_url, gw.ssl_context(), gw.access_records()
"""

from __future__ import annotations

import json
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.nginx import render
from voicebot_stack import paths, specs
from voicebot_stack.launch import launch
from voicebot_stack.probes import port_open
from voicebot_stack.procs import Proc, free_ports, wait_until

CERTS_SCRIPT = paths.CERTS_SCRIPT


@dataclass(frozen=True)
class Certs:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.dir / "server.crt"

    @property
    def key(self) -> Path:
        return self.dir / "server.key"


def make_certs(directory: Path) -> Certs:
    subprocess.run([str(CERTS_SCRIPT), str(directory)], check=True, capture_output=True, timeout=30)
    return Certs(Path(directory))


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a config; check returncode and stderr."""
    return subprocess.run(
        [paths.nginx_bin(), "-t", "-p", str(prefix), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )


class NginxGateway:
    def __init__(self, prefix: Path, certs: Certs, upstreams: list[str], **overrides: Any) -> None:
        self.prefix = Path(prefix)
        self.certs = certs
        self.https_port, self.http_port = free_ports(2)
        self.gateway = render.local(
            self.prefix,
            https_port=self.https_port,
            http_port=self.http_port,
            cert=certs.cert,
            key=certs.key,
            upstreams=upstreams,
            **overrides,
        )
        self.conf = self.prefix / "nginx.conf"
        self.proc: Proc | None = None

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/api/v1/call"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def access_log(self) -> Path:
        return Path(self.gateway.access_log)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certs.ca))

    def start(self, timeout: float = 15.0) -> NginxGateway:
        self.gateway.write(self.conf)
        checked = nginx_test(self.conf, self.prefix)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        spec = specs.nginx(self.prefix, self.conf, self.https_port, self.http_port)
        self.proc = launch(spec, self.prefix / "logs", timeout)
        return self

    def access_records(self) -> list[dict[str, Any]]:
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def wait_access_record(self, trace_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """A WebSocket's access line is written when the connection closes."""
        found: list[dict[str, Any]] = []

        def logged() -> bool:
            found[:] = [r for r in self.access_records() if r.get("trace_id") == trace_id]
            return bool(found)

        wait_until(logged, timeout, f"an access log line with trace id {trace_id}")
        return found[-1]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            wait_until(lambda: not port_open(self.https_port), 10.0, "nginx to stop listening")

    def __enter__(self) -> NginxGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
