"""Render infra/nginx/nginx.conf.template for the local stack, the tests or Kubernetes.

    python infra/nginx/render.py local --prefix DIR --https-port N --http-port N \
        --cert F --key F --upstream 127.0.0.1:8001 --upstream 127.0.0.1:8002 > nginx.conf
    python infra/nginx/render.py kubernetes > infra/k8s/base/nginx/nginx.conf

Placeholders are ${UPPER_CASE} (the envsubst syntax); a missing value is an error, never an empty
string. Standard library only."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
LOCAL_WEB_ROOT = Path(__file__).resolve().parents[2] / "services" / "web" / "dist"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# The image the Kubernetes form is rendered for (infra/k8s); see docs/deployment.md.
KUBERNETES_NGINX_VERSION = (1, 28, 0)
KUBERNETES_CALL_API_HOST = "call-api-headless.voicebot.svc.cluster.local:8000"
HSTS = '"max-age=63072000" always'


@dataclass
class Gateway:
    https_port: int = 443
    http_port: int = 80
    listen_host: str = ""  # "" = every address; "127.0.0.1" for the local stack
    server_name: str = "_"
    cert: str = "/etc/nginx/tls/tls.crt"
    key: str = "/etc/nginx/tls/tls.key"
    upstreams: list[str] = field(default_factory=list)
    # Re-resolve upstream host names (nginx >= 1.27.3): pods come and go behind a headless Service.
    resolve_upstreams: bool = False
    resolver: str | None = None
    prefix: str = "/var/cache/nginx"  # temp files go to <prefix>/tmp
    pid_path: str = "/tmp/nginx.pid"
    access_log: str = "/dev/stdout"
    error_log: str = "stderr"
    worker_processes: str = "auto"
    worker_connections: int = 4096
    conn_per_ip: int = 200
    req_per_second: int = 50
    req_burst: int = 200
    client_max_body_size: str = "64k"
    connect_timeout: str = "2s"
    call_timeout: str = "2h"
    max_fails: int = 2
    fail_timeout: str = "10s"
    nginx_version: tuple[int, int, int] = (1, 22, 1)
    # Off for the local stack: HSTS on "localhost" would hold for every port of every local dev server.
    hsts: bool = True
    # The softphone page's files (services/web/dist; docs/softphone.md).
    web_root: str = "/usr/share/nginx/voicebot-web"
    # The workers' user when the master is root (`user` directive); None: nginx's default (nobody).
    worker_user: str | None = None

    def values(self) -> dict[str, str]:
        if not self.upstreams:
            raise ValueError("at least one upstream call-api instance is needed")
        # `http2 on;` exists from nginx 1.25.1; before it, http2 is a parameter of `listen`.
        http2_directive = self.nginx_version >= (1, 25, 1)
        host = f"{self.listen_host}:" if self.listen_host else ""
        resolve = " resolve" if self.resolve_upstreams else ""
        servers = [
            f"        server {u}{resolve} max_fails={self.max_fails} fail_timeout={self.fail_timeout};"
            for u in self.upstreams
        ]
        if self.resolve_upstreams:
            servers.insert(0, "        zone call_api 64k;")  # re-resolved peers live in shared memory
        return {
            "WORKER_USER": f"user {self.worker_user};\n" if self.worker_user else "",
            "WORKER_PROCESSES": self.worker_processes,
            "WORKER_CONNECTIONS": str(self.worker_connections),
            "PID_PATH": self.pid_path,
            "ERROR_LOG": self.error_log,
            "ACCESS_LOG": self.access_log,
            "TEMP_DIR": f"{self.prefix.rstrip('/')}/tmp",
            "CLIENT_MAX_BODY_SIZE": self.client_max_body_size,
            "REQ_PER_SECOND": str(self.req_per_second),
            "REQ_BURST": str(self.req_burst),
            "CONN_PER_IP": str(self.conn_per_ip),
            "UPSTREAM_SERVERS": "\n".join(servers),
            "RESOLVER": f"    resolver {self.resolver} valid=5s ipv6=off;\n" if self.resolver else "",
            "HTTP_LISTEN": f"{host}{self.http_port}",
            "HTTPS_LISTEN": f"{host}{self.https_port} ssl" + ("" if http2_directive else " http2"),
            "HTTP2_ON": "        http2 on;\n" if http2_directive else "",
            "HSTS": f"        add_header Strict-Transport-Security {HSTS};\n" if self.hsts else "",
            "HTTPS_REDIRECT_PORT": "" if self.https_port == 443 else f":{self.https_port}",
            "SERVER_NAME": self.server_name,
            "TLS_CERT": self.cert,
            "TLS_KEY": self.key,
            "CONNECT_TIMEOUT": self.connect_timeout,
            "CALL_TIMEOUT": self.call_timeout,
            "NEXT_UPSTREAM_TRIES": str(max(2, len(self.upstreams))),
            "WEB_ROOT": self.web_root,
        }

    def render(self) -> str:
        return render_template(TEMPLATE.read_text(), self.values())

    def write(self, path: Path) -> Path:
        """Write the config and create the temp directory it names."""
        (Path(self.prefix) / "tmp").mkdir(parents=True, exist_ok=True)
        path.write_text(self.render())
        return path


def render_template(text: str, values: dict[str, str]) -> str:
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def local_nginx_version(nginx: str = "nginx") -> tuple[int, int, int]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise RuntimeError(f"cannot read the nginx version from {out!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def local(
    prefix: Path,
    *,
    https_port: int,
    http_port: int,
    cert: Path,
    key: Path,
    upstreams: list[str],
    log_dir: Path | None = None,
    **overrides: object,
) -> Gateway:
    """The form for the local stack and the tests: loopback only, everything under `prefix`."""
    prefix = Path(prefix).resolve()
    log_dir = Path(log_dir).resolve() if log_dir else prefix / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    gateway = Gateway(
        https_port=https_port,
        http_port=http_port,
        listen_host="127.0.0.1",
        cert=str(Path(cert).resolve()),
        key=str(Path(key).resolve()),
        upstreams=upstreams,
        prefix=str(prefix),
        pid_path=str(prefix / "nginx.pid"),
        access_log=str(log_dir / "nginx-access.json"),
        error_log="stderr",
        worker_processes="1",
        worker_connections=1024,
        nginx_version=local_nginx_version(),
        hsts=False,
        web_root=str(LOCAL_WEB_ROOT),
        # The workers read the page from the checkout: as the user that started the stack, who can
        # read it (a checkout in a private directory is not readable by nobody). Ignored, with a
        # notice, when nginx is not started as root.
        worker_user=getpass.getuser() if os.geteuid() == 0 else None,
    )
    for name, value in overrides.items():
        setattr(gateway, name, value)
    return gateway


def kubernetes() -> Gateway:
    """The form of infra/k8s (nginx image KUBERNETES_NGINX_VERSION, call-api behind a headless Service)."""
    return Gateway(
        upstreams=[KUBERNETES_CALL_API_HOST],
        resolve_upstreams=True,
        resolver="kube-dns.kube-system.svc.cluster.local",
        conn_per_ip=100,
        req_per_second=20,
        req_burst=100,
        nginx_version=KUBERNETES_NGINX_VERSION,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="form", required=True)
    sub.add_parser("kubernetes")
    loc = sub.add_parser("local")
    loc.add_argument("--prefix", type=Path, required=True)
    loc.add_argument("--log-dir", type=Path)
    loc.add_argument("--https-port", type=int, required=True)
    loc.add_argument("--http-port", type=int, required=True)
    loc.add_argument("--cert", type=Path, required=True)
    loc.add_argument("--key", type=Path, required=True)
    loc.add_argument("--upstream", action="append", required=True, help="host:port, repeat per instance")
    loc.add_argument("--conn-per-ip", type=int, default=200)
    loc.add_argument("--req-per-second", type=int, default=50)
    loc.add_argument("--req-burst", type=int, default=200)
    args = parser.parse_args(argv)
    if args.form == "kubernetes":
        sys.stdout.write(kubernetes().render())
        return 0
    gateway = local(
        args.prefix,
        https_port=args.https_port,
        http_port=args.http_port,
        cert=args.cert,
        key=args.key,
        upstreams=args.upstream,
        log_dir=args.log_dir,
        conn_per_ip=args.conn_per_ip,
        req_per_second=args.req_per_second,
        req_burst=args.req_burst,
    )
    (Path(gateway.prefix) / "tmp").mkdir(parents=True, exist_ok=True)
    sys.stdout.write(gateway.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
