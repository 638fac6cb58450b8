"""The gateway config renders for every form and passes `nginx -t`; scripts/certs.sh is idempotent."""

import os
import re
import ssl
import subprocess
from pathlib import Path

import pytest

from infra.nginx import render
from tests.support.nginx import CERTS_SCRIPT, Certs, make_certs, nginx_test


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def check(gateway: render.Gateway, prefix: Path) -> str:
    conf = gateway.write(prefix / "nginx.conf")
    result = nginx_test(conf, prefix)
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr
    return conf.read_text()


def test_local_form_passes_nginx_t(tmp_path: Path, certs: Certs) -> None:
    gateway = render.local(
        tmp_path, https_port=18443, http_port=18080, cert=certs.cert, key=certs.key,
        upstreams=["127.0.0.1:18001", "127.0.0.1:18002"],
    )  # fmt: skip
    text = check(gateway, tmp_path)
    assert "listen 127.0.0.1:18443 ssl" in text and "listen 127.0.0.1:18080;" in text
    assert "return 308 https://$host:18443$request_uri;" in text
    assert "Strict-Transport-Security" not in text
    assert len(re.findall(r"server 127\.0\.0\.1:1800[12] max_fails=2 fail_timeout=10s;", text)) == 2
    # Started as root, its workers are the starting user, who can read the page from the checkout
    # (nobody cannot, when the checkout sits in a private directory).
    if os.geteuid() == 0:
        assert text.startswith("user root;") or "\nuser root;\n" in text
    assert "user " not in render.kubernetes().render()  # the image's own non-root user


def test_deployment_form_passes_nginx_t(tmp_path: Path, certs: Certs) -> None:
    """The Kubernetes form with what a test machine can check: its cluster host names, `resolve`
    (nginx >= 1.27.3) and `http2 on` (>= 1.25.1) are swapped for what the local nginx knows."""
    gateway = render.kubernetes()
    gateway.upstreams = ["127.0.0.1:8000", "127.0.0.1:8001"]
    gateway.resolver = "127.0.0.1"
    local_version = render.local_nginx_version()
    gateway.resolve_upstreams = local_version >= (1, 27, 3)
    gateway.nginx_version = local_version
    gateway.cert, gateway.key = str(certs.cert), str(certs.key)
    gateway.prefix = str(tmp_path)
    gateway.pid_path = str(tmp_path / "nginx.pid")
    text = check(gateway, tmp_path)
    assert re.search(r"listen 443 ssl( http2)?;", text) and "listen 80;" in text
    assert "return 308 https://$host$request_uri;" in text
    assert "access_log /dev/stdout gateway_json;" in text


def test_kubernetes_form_targets_the_headless_service() -> None:
    text = render.kubernetes().render()
    assert "zone call_api 64k;" in text
    assert f"server {render.KUBERNETES_CALL_API_HOST} resolve max_fails=2" in text
    assert "http2 on;" in text and "listen 443 ssl;" in text
    assert "resolver kube-dns.kube-system.svc.cluster.local" in text


def test_every_placeholder_is_filled() -> None:
    assert "${" not in render.kubernetes().render()
    with pytest.raises(KeyError, match="MISSING"):
        render.render_template("a ${MISSING} b", {})
    assert render.render_template("$host ${A}", {"A": "1"}) == "$host 1"  # nginx's own variables stay


def test_gateway_contract_directives() -> None:
    text = render.kubernetes().render()
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header X-Trace-ID $trace_id;",
        'proxy_set_header traceparent "00-$trace_id-$gateway_span_id-01";',
        "add_header X-Trace-ID $trace_id always;",
        "proxy_next_upstream error timeout http_503;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        'add_header Strict-Transport-Security "max-age=63072000" always;',
        "log_format gateway_json escape=json",
        "keepalive 32;",
    ):
        assert directive in text, directive
    timeouts = re.findall(r"proxy_(?:read|send)_timeout (\d+)h;", text)
    assert timeouts and all(int(t) >= 1 for t in timeouts)


def run_certs(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CERTS_SCRIPT), str(directory)], capture_output=True, text=True, timeout=30, check=True
    )


def test_certs_are_valid_for_localhost_and_loopback(certs: Certs) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca))
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "voicebot local CA"),),)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(certs.cert), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert certs.key.stat().st_mode & 0o077 == 0


def test_certs_script_is_idempotent(tmp_path: Path) -> None:
    run_certs(tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = run_certs(tmp_path)
    assert "valid certificates" in again.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    # A broken server certificate is replaced (with a new CA and key).
    (tmp_path / "server.crt").write_text("garbage\n")
    run_certs(tmp_path)
    assert (tmp_path / "server.crt").read_bytes() != first["server.crt"]
    subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "server.crt")], check=True,
        capture_output=True,
    )  # fmt: skip
