"""The Prometheus rules (infra/prometheus/rules.yml): valid, unit-tested with `promtool test rules`,
and written only against metrics the services really export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.procs import REPO_ROOT

RULES_DIR = REPO_ROOT / "infra" / "prometheus"
METRIC_SOURCES = [
    REPO_ROOT / "services" / "call-api" / "call_api" / "metrics.py",
    REPO_ROOT / "services" / "media-controller" / "media_controller" / "metrics.py",
    REPO_ROOT / "services" / "mediasoup" / "lib" / "metrics.js",
]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: run make setup (Debian's prometheus)"
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run(
        [PROMTOOL, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60, check=False
    )


@needs_promtool
def test_rules_are_valid() -> None:
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", "rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@needs_promtool
def test_promtool_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests can fail: the same file with one expected value changed does."""
    shutil.copy(RULES_DIR / "rules.yml", tmp_path / "rules.yml")
    broken = (RULES_DIR / "rules.test.yml").read_text().replace("value: 0.8", "value: 0.7", 1)
    (tmp_path / "rules.test.yml").write_text(broken)
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", "rules.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def exported_metrics() -> set[str]:
    names: set[str] = set()
    for source in METRIC_SOURCES:
        names |= set(re.findall(r"""["']((?:callapi|media|mediasoup)_[a-z_]+)["']""", source.read_text()))
    return names


def test_rules_use_only_exported_metrics() -> None:
    exported = exported_metrics()
    assert {"callapi_calls_total", "media_failures_total", "mediasoup_worker_deaths_total"} <= exported
    rules = yaml.safe_load((RULES_DIR / "rules.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    # Label values ("...") and recorded series (voicebot:...) are not metric names.
    bare = [re.sub(r'"[^"]*"', "", str(expr)) for expr in exprs]
    used = {m for expr in bare for m in re.findall(r"(?<![:\w])((?:callapi|media|mediasoup)_[a-z_]+)", expr)}
    # Histograms are exported by their base name; the rules read their _bucket series.
    unknown = {m for m in used if m not in exported and m.removesuffix("_bucket") not in exported}
    assert not unknown, f"rules use metrics no service exports: {sorted(unknown)}"


def test_every_figure_of_the_issue_has_an_alert() -> None:
    rules = yaml.safe_load((RULES_DIR / "rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    assert {
        "VoicebotCallFailureRateHigh",
        "VoicebotProviderFailureRateHigh",
        "VoicebotMediaFailures",
        "VoicebotMediasoupWorkerRestarted",
        "VoicebotTurnLatencyHigh",
        "VoicebotCapacityLow",
        "VoicebotRedisDegraded",
    } <= alerts
