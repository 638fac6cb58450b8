"""The voicebot Grafana dashboard, generated with grafana-foundation-sdk (never hand-edited).

    python -m infra.grafana.dashboard            # writes infra/grafana/voicebot.json
    python -m infra.grafana.dashboard --check    # exits 1 when the JSON is not current

Each figure of the alert rules (infra/prometheus/rules.yml) appears cluster-wide (the recorded
series) and per instance (the raw metrics by `instance`)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).with_name("voicebot.json")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
_ids = itertools.count(1)  # Grafana wants a unique id per panel and row


def query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def series(title: str, unit: str, *queries: prometheus.Dataquery, span: int = 12) -> timeseries.Panel:
    panel = (
        timeseries.Panel().id(next(_ids)).title(title).unit(unit).datasource(DATASOURCE).height(8).span(span)
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel


def single(title: str, unit: str, expr: str) -> stat.Panel:
    return (
        stat.Panel()
        .id(next(_ids))
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(4)
        .span(6)
        .with_target(query(expr, title))
    )


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title).id(next(_ids))


def build() -> dashboard.Dashboard:
    global _ids
    _ids = itertools.count(1)
    per_instance_p95 = "histogram_quantile(0.95, sum by (instance, le) (rate({}_bucket[5m])))"
    return (
        dashboard.Dashboard("voicebot")
        .uid("voicebot")
        .tags(["voicebot"])
        .refresh("30s")
        .time("now-3h", "now")
        .with_variable(dashboard.DatasourceVariable("datasource").type("prometheus"))
        .with_row(row("Now"))
        .with_panel(single("Active calls", "short", "sum(callapi_active_calls)"))
        .with_panel(
            single("Media capacity headroom", "percentunit", "voicebot:media_capacity_headroom:ratio")
        )
        .with_panel(single("Redis degraded", "bool", "voicebot:redis_degraded:max"))
        .with_panel(single("mediasoup workers", "short", "sum(mediasoup_workers)"))
        .with_row(row("Calls"))
        .with_panel(
            series(
                "Call failure ratio",
                "percentunit",
                query("voicebot:call_failure_ratio:rate5m", "{{job}}"),
            )
        )
        .with_panel(
            series(
                "Provider failures per call",
                "short",
                query("voicebot:provider_failure_ratio:rate5m", "{{provider}}"),
            )
        )
        .with_panel(
            series(
                "Turn response p95 (caller stops → bot audio)",
                "s",
                query("voicebot:callapi_turn_response_seconds:p95_5m", "cluster"),
                query(per_instance_p95.format("callapi_turn_response_seconds"), "{{instance}}", "B"),
            )
        )
        .with_panel(
            series(
                "Barge-ins per call",
                "short",
                query("voicebot:barge_ins_per_call:rate5m", "cluster"),
                query("sum by (instance) (rate(media_barge_ins_total[5m]))", "{{instance}} barge-ins/s", "B"),
            )
        )
        .with_row(row("Media plane"))
        .with_panel(
            series(
                "Media failures",
                "ops",
                query("voicebot:media_failures:rate5m", "{{reason}}"),
                query("sum by (instance) (rate(media_failures_total[5m]))", "{{instance}}", "B"),
            )
        )
        .with_panel(
            series(
                "mediasoup worker restarts (10 min)",
                "short",
                query("voicebot:worker_deaths:increase10m", "{{instance}}"),
            )
        )
        .with_panel(
            series(
                "Media sessions and capacity headroom",
                "short",
                query("sum by (instance) (mediasoup_sessions)", "{{instance}} sessions"),
                query("voicebot:media_capacity_headroom:ratio", "headroom (ratio)", "B"),
            )
        )
        .with_panel(
            series(
                "Redis degraded (per call-api instance)",
                "bool",
                query("max by (instance) (callapi_redis_degraded)", "{{instance}}"),
            )
        )
    )


def render() -> str:
    return (
        json.dumps(json.loads(JSONEncoder(sort_keys=True).encode(build().build())), indent=2, sort_keys=True)
        + "\n"
    )


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUT.exists() and OUT.read_text() == text
        print(
            "infra/grafana/voicebot.json is current"
            if current
            else "stale: run python -m infra.grafana.dashboard"
        )
        return 0 if current else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
