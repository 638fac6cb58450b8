"""infra/k8s renders with kustomize (kubectl's built-in), and every object validates offline
against the Kubernetes 1.30 schemas (kubernetes-validate, strict); the wiring between them holds."""

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from infra.nginx import render
from tests.support.procs import REPO_ROOT

K8S = REPO_ROOT / "infra" / "k8s"
KUBERNETES_VERSION = "1.30.0"
KUSTOMIZATIONS = ["base", "overlays/production"]


def kustomize(path: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render infra/k8s")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="module", params=KUSTOMIZATIONS)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize(request.param)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return kustomize("overlays/production")


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


WORKLOADS = ("Deployment", "DaemonSet")


def container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env_of(docs: list[dict[str, Any]], c: dict[str, Any]) -> dict[str, Any]:
    """A container's environment: its env entries over the ConfigMaps it takes with envFrom."""
    env: dict[str, Any] = {}
    for source in c.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])})
    return env


# Custom resources (Prometheus Operator) have no schema among Kubernetes' own: checked below.
CRD_GROUPS = ("monitoring.coreos.com/",)


def test_every_object_validates(docs: list[dict[str, Any]]) -> None:
    assert len(docs) >= 15
    for doc in docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_monitors_scrape_what_exists(docs: list[dict[str, Any]]) -> None:
    service_monitor = find(docs, "ServiceMonitor", "call-api")
    wanted = service_monitor["spec"]["selector"]["matchLabels"]
    labelled = [d for d in docs if d["kind"] == "Service" and "labels" in d["metadata"]]
    services = [d for d in labelled if wanted.items() <= d["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in services] == ["call-api"]  # not the headless twin too
    port_names = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in service_monitor["spec"]["endpoints"]} <= port_names

    pod_monitor = find(docs, "PodMonitor", "media-controller")
    media = find(docs, "DaemonSet", "media")
    pod_labels = media["spec"]["template"]["metadata"]["labels"]
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    controller_ports = {p["name"] for c in controllers(media) for p in c["ports"]}
    assert {e["port"] for e in pod_monitor["spec"]["podMetricsEndpoints"]} == controller_ports
    for endpoint in [*service_monitor["spec"]["endpoints"], *pod_monitor["spec"]["podMetricsEndpoints"]]:
        assert endpoint["path"] == "/metrics"


def test_the_validator_rejects_a_broken_object(docs: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(find(docs, "Deployment", "call-api"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_everything_is_in_the_namespace(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "voicebot", doc["metadata"]["name"]


def test_call_api_probes_and_drain(docs: list[dict[str, Any]]) -> None:
    deployment = find(docs, "Deployment", "call-api")
    pod = deployment["spec"]["template"]["spec"]
    api = container(deployment, "call-api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    pre_stop = float(api["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = float(env_of(docs, api)["CALL_API_DRAIN_GRACE_SECONDS"])
    # gunicorn.conf.py: graceful_timeout = grace + 10; the kubelet must not SIGKILL before that.
    assert pod["terminationGracePeriodSeconds"] > pre_stop + grace + 10
    assert api["resources"]["requests"]["cpu"] and api["resources"]["limits"]["memory"]
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    hpa = find(docs, "HorizontalPodAutoscaler", "call-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2


def test_services_and_budgets_select_pods(docs: list[dict[str, Any]]) -> None:
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in docs if d["kind"] in WORKLOADS]

    def selects(selector: dict[str, str]) -> bool:
        return any(selector.items() <= labels.items() for labels in pod_labels)

    for doc in docs:
        if doc["kind"] == "Service":
            assert selects(doc["spec"]["selector"]), doc["metadata"]["name"]
        if doc["kind"] == "PodDisruptionBudget":
            assert selects(doc["spec"]["selector"]["matchLabels"]), doc["metadata"]["name"]
    assert find(docs, "Service", "call-api-headless")["spec"]["clusterIP"] == "None"


def controllers(media: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in media["spec"]["template"]["spec"]["containers"] if c["name"].startswith("media-")]


def controller_sets(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(mediasoup env, media-controller env) of each controller set of the media pod."""
    media = find(docs, "DaemonSet", "media")
    sets = []
    for c in controllers(media):
        index = c["name"].rsplit("-", 1)[1]
        sets.append((env_of(docs, container(media, f"mediasoup-{index}")), env_of(docs, c)))
    return sets


def test_media_plane_on_the_node_network(docs: list[dict[str, Any]]) -> None:
    media = find(docs, "DaemonSet", "media")
    pod = media["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    secret = {
        "secretKeyRef": {
            "name": find(docs, "Secret", "mediasoup-secret")["metadata"]["name"],
            "key": "secret",
        }
    }
    for mediasoup, controller in controller_sets(docs):
        assert mediasoup["MEDIASOUP_ANNOUNCED_IP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
        assert int(mediasoup["MEDIASOUP_RTC_MIN_PORT"]) < int(mediasoup["MEDIASOUP_RTC_MAX_PORT"])
        assert (
            mediasoup["MEDIASOUP_SERVICE_SECRET"] == controller["MEDIA_CONTROLLER_MEDIASOUP_SECRET"] == secret
        )
        assert controller["MEDIA_CONTROLLER_MEDIASOUP_URL"].endswith(
            f":{mediasoup['MEDIASOUP_SERVICE_PORT']}/"
        )


def test_media_tier_grows_with_nodes_and_drains(docs: list[dict[str, Any]]) -> None:
    """One media pod per media node (no replica count caps the cluster), several controller sets
    per pod on their own ports and RTP ranges, each registered in Redis under its node address;
    SIGTERM drains within the pod's grace period, one node at a time."""
    media = find(docs, "DaemonSet", "media")
    pod = media["spec"]["template"]["spec"]
    sets = controller_sets(docs)
    assert len(sets) >= 2
    ports: set[int] = set()
    rtp: list[range] = []
    for mediasoup, controller in sets:
        port = int(controller["MEDIA_CONTROLLER_PORT"])
        ports |= {port, int(mediasoup["MEDIASOUP_SERVICE_PORT"])}
        rtp.append(
            range(int(mediasoup["MEDIASOUP_RTC_MIN_PORT"]), int(mediasoup["MEDIASOUP_RTC_MAX_PORT"]) + 1)
        )
        assert controller["MEDIA_CONTROLLER_ADVERTISE_URL"] == f"http://$(NODE_IP):{port}"
        assert controller["NODE_IP"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
        assert controller["MEDIA_CONTROLLER_REDIS_URL"].startswith(
            "redis://voicebot:$(REDIS_PASSWORD)@redis."
        )
        assert (
            float(controller["MEDIA_CONTROLLER_DRAIN_GRACE_SECONDS"]) + 10
            < pod["terminationGracePeriodSeconds"]
        )
    assert len(ports) == 2 * len(sets), "every set has its own service and controller port"
    assert all(not set(a) & set(b) for i, a in enumerate(rtp) for b in rtp[i + 1 :]), "RTP ranges overlap"
    ids = {c["MEDIA_CONTROLLER_CONTROLLER_ID"] for _, c in sets}
    assert len(ids) == len(sets) and all("$(NODE_NAME)" in i for i in ids)
    for c in pod["containers"]:
        if c["name"].startswith("mediasoup-"):  # waits for its controller's drain before it stops
            controller_port = str(8100 + int(c["name"].rsplit("-", 1)[1]))
            assert controller_port in " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    budget = find(docs, "PodDisruptionBudget", "media")
    assert budget["spec"]["maxUnavailable"] == 1
    assert (
        budget["spec"]["selector"]["matchLabels"].items()
        <= media["spec"]["template"]["metadata"]["labels"].items()
    )
    api = env_of(docs, container(find(docs, "Deployment", "call-api"), "call-api"))
    assert api["CALL_API_MEDIA_DISCOVERY"] == "registry"
    assert not [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "media"]


def test_traces_go_to_jaeger(docs: list[dict[str, Any]]) -> None:
    jaeger = find(docs, "Service", "jaeger")
    assert 4318 in [p["port"] for p in jaeger["spec"]["ports"]]
    endpoint = "http://jaeger.voicebot.svc.cluster.local:4318"
    api = env_of(docs, container(find(docs, "Deployment", "call-api"), "call-api"))
    assert (api["CALL_API_TRACE_EXPORTER"], api["CALL_API_OTLP_ENDPOINT"]) == ("otlp", endpoint)
    for _, controller in controller_sets(docs):
        assert (
            controller["MEDIA_CONTROLLER_OTEL_EXPORTER"],
            controller["MEDIA_CONTROLLER_OTLP_ENDPOINT"],
        ) == (
            "otlp",
            endpoint,
        )


def test_nginx_runs_the_rendered_gateway_config(docs: list[dict[str, Any]]) -> None:
    committed = (K8S / "base" / "nginx" / "nginx.conf").read_text()
    assert committed == render.kubernetes().render(), (
        "run: python infra/nginx/render.py kubernetes > infra/k8s/base/nginx/nginx.conf"
    )
    deployment = find(docs, "Deployment", "nginx")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    conf_map = find(docs, "ConfigMap", "nginx-conf")
    assert volumes["conf"]["configMap"]["name"] == conf_map["metadata"]["name"]  # with kustomize's hash
    assert conf_map["data"]["nginx.conf"] == committed
    assert volumes["tls"]["secret"]["secretName"] == find(docs, "Secret", "gateway-tls")["metadata"]["name"]
    assert "call-api-headless.voicebot.svc.cluster.local:8000 resolve" in committed
    service = find(docs, "Service", "nginx")
    assert {p["port"] for p in service["spec"]["ports"]} == {443, 80}


def test_images_are_versioned(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            for c in doc["spec"]["template"]["spec"]["containers"]:
                assert ":" in c["image"] and not c["image"].endswith(":latest"), c["image"]


def test_every_image_of_ours_is_built_by_make_images(docs: list[dict[str, Any]]) -> None:
    """A manifest that names a voicebot/* image `make images` does not build cannot be deployed."""
    built = re.search(r"^IMAGES=\((.*)\)$", (REPO_ROOT / "infra/images/common.sh").read_text(), re.M)
    assert built is not None
    named = {
        c["image"].split("/", 1)[1].split(":")[0]
        for doc in docs
        if doc["kind"] in WORKLOADS
        for c in [
            *doc["spec"]["template"]["spec"]["containers"],
            *doc["spec"]["template"]["spec"].get("initContainers", []),
        ]
        if c["image"].startswith("voicebot/")
    }
    assert named and named <= set(built.group(1).split()), named - set(built.group(1).split())


def test_production_overlay(production: list[dict[str, Any]]) -> None:
    api = find(production, "Deployment", "call-api")
    assert container(api, "call-api")["image"] == "registry.example.com/voicebot/call-api:0.1.0"
    assert find(production, "HorizontalPodAutoscaler", "call-api")["spec"]["minReplicas"] == 3
    assert find(production, "Deployment", "nginx")["spec"]["replicas"] == 3
    assert api["metadata"]["labels"]["app.kubernetes.io/environment"] == "production"
    # Labels added by the overlay never enter the (immutable) selectors.
    assert "app.kubernetes.io/environment" not in api["spec"]["selector"]["matchLabels"]


def test_kustomizations_list_every_manifest() -> None:
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    manifests = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert manifests == set(base["resources"]), "a manifest in infra/k8s/base is not in kustomization.yaml"
    assert Path(K8S / "base" / "nginx" / "nginx.conf").exists()


def test_the_sip_pod_takes_udp_at_the_gateway_and_tcp_at_its_kamailio_edge(
    docs: list[dict[str, Any]],
) -> None:
    sip = find(docs, "Deployment", "sip-gateway")
    gateway, edge = container(sip, "sip-gateway"), container(sip, "sip-edge")
    assert {(p["containerPort"], p.get("protocol")) for p in gateway["ports"]} >= {(5060, "UDP")}
    assert {(p["containerPort"], p.get("protocol")) for p in edge["ports"]} == {(5060, "TCP")}
    gateway_env, edge_env = env_of(docs, gateway), env_of(docs, edge)
    assert edge_env["KAMAILIO_GATEWAY_PORT"] == gateway_env["SIP_GATEWAY_SIP_PORT"]
    assert edge_env["KAMAILIO_TCP_HOST"] == {"fieldRef": {"fieldPath": "status.hostIP"}}
    # The gateway trusts the edge's loopback relay; the edge checks the carriers' addresses itself.
    carriers = set(edge_env["KAMAILIO_ALLOW_NETWORKS"].split(","))
    assert set(gateway_env["SIP_GATEWAY_ALLOW_NETWORKS"].split(",")) == carriers | {"127.0.0.1/32"}
