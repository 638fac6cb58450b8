"""`make test-images`: every image `make images` built starts from its own files and answers its
health endpoint (call-api and media-controller /healthz, the mediasoup service /healthz with a
real worker), run with chroot from `podman image mount` on loopback. Skipped unless
VOICEBOT_TEST_IMAGES=1 (set by `make test-images`, which builds the images first)."""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.images import chroot_proc, image_config, image_exists, mount_image, unmount_image
from tests.support.procs import Proc, free_port, http_ok, port_open, wait_until

pytestmark = pytest.mark.skipif(
    os.environ.get("VOICEBOT_TEST_IMAGES") != "1", reason="image test: run `make test-images`"
)

VERSION = "0.1.0"


def health(port: int, path: str = "/healthz") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
        return resp.status, resp.read().decode()


def wait_healthy(proc: Proc, port: int, what: str, timeout: float = 60) -> str:
    """Until `what` answers /healthz on `port` (or dies: then its output is the failure); the body."""
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz") or not proc.alive(), timeout, what)
    assert proc.alive(), proc.output()
    status, body = health(port)
    assert status == 200, body
    return body


@pytest.fixture
def run_image(tmp_path: Path) -> Iterator:
    started: list[tuple[str, object]] = []

    def run(name: str, env: dict[str, str]):
        image = f"voicebot/{name}:{VERSION}"
        assert image_exists(image), f"{image} not built: run `make images`"
        config = image_config(image)
        assert config.user == "10001", f"{image} runs as {config.user!r}"
        root = mount_image(image)
        proc = chroot_proc(name, root, config, env, tmp_path).start()
        started.append((image, proc))
        return proc

    yield run
    for image, proc in started:
        proc.stop()  # type: ignore[attr-defined]
        unmount_image(image)


def test_call_api_image_answers_healthz(run_image) -> None:
    port = free_port()
    proc = run_image("call-api", {"CALL_API_BIND": f"127.0.0.1:{port}", "CALL_API_WORKERS": "1"})
    wait_healthy(proc, port, "call-api /healthz", timeout=90)


def test_media_controller_image_answers_healthz(run_image) -> None:
    port = free_port()
    proc = run_image(
        "media-controller",
        {
            "MEDIA_CONTROLLER_HOST": "127.0.0.1",
            "MEDIA_CONTROLLER_PORT": str(port),
            # it refuses to start without strong secrets (docs/security.md)
            "MEDIA_CONTROLLER_API_SECRET": secrets.token_hex(32),
            "MEDIA_CONTROLLER_MEDIASOUP_SECRET": secrets.token_hex(32),
        },
    )
    wait_healthy(proc, port, "media-controller /healthz")


def test_sip_gateway_image_answers_healthz(run_image) -> None:
    sip_port, health_port = free_port(), free_port()
    proc = run_image(
        "sip-gateway",
        {
            "SIP_GATEWAY_SIP_HOST": "127.0.0.1",
            "SIP_GATEWAY_SIP_PORT": str(sip_port),
            "SIP_GATEWAY_HEALTH_HOST": "127.0.0.1",
            "SIP_GATEWAY_HEALTH_PORT": str(health_port),
        },
    )
    body = wait_healthy(proc, health_port, "sip-gateway /healthz")
    assert json.loads(body)["status"] == "ok", body  # its SIP stack's thread runs


def test_sip_edge_image_renders_its_config_and_listens(run_image) -> None:
    tcp_port, relay_port, gateway_port = free_port(), free_port(), free_port()
    proc = run_image(
        "sip-edge",
        {
            "KAMAILIO_TCP_HOST": "127.0.0.1",
            "KAMAILIO_TCP_PORT": str(tcp_port),
            "KAMAILIO_RELAY_PORT": str(relay_port),
            "KAMAILIO_GATEWAY_PORT": str(gateway_port),
            "KAMAILIO_ALLOW_NETWORKS": "127.0.0.1/32",
            "KAMAILIO_RUN_DIR": "/tmp/kamailio",  # the image's /tmp is the test's private tmpfs
        },
    )
    wait_until(lambda: port_open(tcp_port) or not proc.alive(), 60, "sip-edge on its TCP port")
    assert proc.alive(), proc.output()


def test_mediasoup_image_runs_a_real_worker(run_image) -> None:
    port = free_port()
    proc = run_image(
        "mediasoup",
        {
            "MEDIASOUP_SERVICE_HOST": "127.0.0.1",
            "MEDIASOUP_SERVICE_PORT": str(port),
            "MEDIASOUP_SERVICE_SECRET": secrets.token_hex(32),
            "MEDIASOUP_WORKERS": "1",
        },
    )
    line = proc.wait_line(r'"event":\s*"listening"', timeout=60)
    listening = json.loads(line.string)
    assert listening["port"] == port
    assert len(listening["workers"]) == 1  # a worker process really started
    assert listening["mediasoup_version"].startswith("3.")
    status, body = health(port)
    assert status == 200, body
    health_body = json.loads(body)
    assert health_body["status"] == "ok"
    assert [w["pid"] for w in health_body["workers"]] == listening["workers"]
