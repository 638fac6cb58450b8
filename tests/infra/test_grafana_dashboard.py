"""The Grafana dashboard (infra/grafana/voicebot.json) is what infra/grafana/dashboard.py generates,
parses as a dashboard model, lays its panels out without overlap, and queries only series that
exist: metrics the services export or series the Prometheus rules record."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from infra.grafana import dashboard as generator
from tests.infra.test_prometheus_rules import RULES_DIR, exported_metrics
from tests.support.procs import REPO_ROOT

JSON_PATH = REPO_ROOT / "infra" / "grafana" / "voicebot.json"


def load() -> dict[str, Any]:
    return dict(json.loads(JSON_PATH.read_text()))


def test_the_json_is_generated_not_hand_edited() -> None:
    assert JSON_PATH.read_text() == generator.render(), "run: python -m infra.grafana.dashboard"


def test_it_parses_as_a_grafana_dashboard() -> None:
    model = Dashboard.from_json(load())
    assert model.title == "voicebot"
    assert model.panels and len(model.panels) >= 10


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = load()["panels"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"panel {p['title']!r} overlaps another"
        cells |= mine


def test_queries_name_only_series_that_exist() -> None:
    rules = yaml.safe_load((RULES_DIR / "rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    exported = exported_metrics()
    exprs = [t["expr"] for p in load()["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        bare = re.sub(r'"[^"]*"', "", expr)
        for name in re.findall(r"[a-z_:]+[a-z0-9_:]*(?=[\s{\[)]|$)", bare):
            if ":" in name:
                assert name in recorded, f"{expr}: {name} is not recorded by the rules"
            elif name.startswith(("callapi_", "media_", "mediasoup_")):
                assert name.removesuffix("_bucket") in exported, f"{expr}: {name} is not exported"


def test_every_alerted_figure_is_on_the_dashboard() -> None:
    text = JSON_PATH.read_text()
    for series in [
        "voicebot:call_failure_ratio:rate5m",
        "voicebot:provider_failure_ratio:rate5m",
        "voicebot:media_failures:rate5m",
        "voicebot:worker_deaths:increase10m",
        "voicebot:callapi_turn_response_seconds:p95_5m",
        "voicebot:media_capacity_headroom:ratio",
        "voicebot:redis_degraded:max",
    ]:
        assert series in text
