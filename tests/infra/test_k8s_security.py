"""infra/k8s is locked down: NetworkPolicies allow exactly the edges of docs/security.md (evaluated
here the way Kubernetes does: a connection needs the source's egress and the target's ingress),
every container runs as non-root with a read-only root filesystem, and Redis needs a password."""

from typing import Any

import pytest

from tests.infra.test_k8s import container, find, kustomize

Doc = dict[str, Any]


@pytest.fixture(scope="module", params=["base", "overlays/production"])
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return kustomize(request.param)


def pod_labels(deployment: Doc) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def policies_of(docs: list[Doc], labels: dict[str, str], direction: str) -> list[Doc]:
    return [
        p
        for p in docs
        if p["kind"] == "NetworkPolicy"
        and direction in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], labels)
    ]


def rule_allows(rule: Doc, peer_key: str, peer_labels: dict[str, str] | None, port: int) -> bool:
    """peer_labels None: a peer outside the namespace's pods (another namespace, or the internet)."""
    ports = rule.get("ports")
    if ports is not None and not any(p.get("port") == port for p in ports):
        return False
    peers = rule.get(peer_key)
    if peers is None:
        return True  # no from/to: any peer
    for peer in peers:
        if "ipBlock" in peer:
            if peer_labels is None:
                return True
            continue  # pod traffic is matched by pod selectors here, not by address
        if "namespaceSelector" in peer:
            continue  # another namespace (kube-dns): never one of ours
        if peer_labels is not None and selects(peer["podSelector"], peer_labels):
            return True
    return False


def allowed(docs: list[Doc], src: dict[str, str] | None, dst: dict[str, str] | None, port: int) -> bool:
    if src is not None:
        egress = policies_of(docs, src, "Egress")
        if egress and not any(
            rule_allows(r, "to", dst, port) for p in egress for r in p["spec"].get("egress", [])
        ):
            return False
    if dst is not None:
        ingress = policies_of(docs, dst, "Ingress")
        if ingress and not any(
            rule_allows(r, "from", src, port) for p in ingress for r in p["spec"].get("ingress", [])
        ):
            return False
    return True


PORTS = {"nginx": 443, "call-api": 8000, "redis": 6379, "jaeger": 4318}
EXPECTED = {
    (None, "nginx", 443),
    ("nginx", "call-api", 8000),
    ("call-api", "redis", 6379),
    ("call-api", "jaeger", 4318),
}


def test_a_default_deny_and_a_policy_for_every_pod_network_deployment(docs: list[Doc]) -> None:
    deny = find(docs, "NetworkPolicy", "default-deny")
    assert deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        if deployment["spec"]["template"]["spec"].get("hostNetwork"):
            continue  # policies do not apply on the host network (docs/security.md)
        labels = pod_labels(deployment)
        named = [p for p in policies_of(docs, labels, "Ingress") if p["spec"]["podSelector"]]
        assert named, f"no NetworkPolicy of its own for {deployment['metadata']['name']}"


def test_exactly_the_documented_edges_are_open(docs: list[Doc]) -> None:
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    labels = {name: pod_labels(d) for name, d in deployments.items() if name in PORTS}
    sources: list[str | None] = [None, *labels]
    open_edges = {
        (src, dst, PORTS[dst])
        for src in sources
        for dst in labels
        if allowed(docs, None if src is None else labels[src], labels[dst], PORTS[dst])
    }
    # from outside: only nginx; jaeger's OTLP port admits the host-network media pod by address
    assert open_edges - {(None, "jaeger", 4318)} == EXPECTED
    assert not allowed(docs, None, labels["redis"], 6379), "redis must not be reachable from outside"
    assert not allowed(docs, labels["nginx"], labels["redis"], 6379)
    assert not allowed(docs, labels["call-api"], labels["call-api"], 8000)
    assert allowed(docs, labels["call-api"], None, 8100), "call-api reaches the media controllers"
    assert not allowed(docs, labels["nginx"], None, 8100)


def test_every_container_is_non_root_with_a_read_only_root(docs: list[Doc]) -> None:
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for c in pod["containers"]:
            context = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
            where = f"{deployment['metadata']['name']}/{c['name']}"
            assert context.get("runAsNonRoot") is True and context.get("runAsUser", 0) != 0, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("readOnlyRootFilesystem") is True, where


def test_redis_requires_a_password_and_call_api_uses_it(docs: list[Doc]) -> None:
    redis = container(find(docs, "Deployment", "redis"), "redis")
    args = redis["args"]
    assert args[args.index("default") + 1] == "off", "the passwordless default user must be off"
    assert ">$(REDIS_PASSWORD)" in args
    api = container(find(docs, "Deployment", "call-api"), "call-api")
    env = {e["name"]: e for e in api["env"]}
    assert env["CALL_API_REDIS_URL"]["value"] == "redis://voicebot:$(REDIS_PASSWORD)@redis:6379/0"
    names = [e["name"] for e in api["env"]]
    assert names.index("REDIS_PASSWORD") < names.index("CALL_API_REDIS_URL"), "$(VAR) needs it defined first"
    for name in ("CALL_API_GATEWAY_KEYS", "CALL_API_TOKEN_SECRET"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
