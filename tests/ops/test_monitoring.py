"""ops/monitoring ships rules Prometheus accepts (``promtool check rules``, Debian's
``prometheus`` package), about metrics that exist: every ``steadydesk_*`` metric the node
rules and the dashboard name is exported by a real node's /metrics, and every alert has
its runbook entry in docs/operations.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.server import ServerProcess
from tests.support.services import service_unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "ops" / "monitoring"
NODE_RULES = MONITORING / "steadydesk-alerts.yml"
BRIDGE_RULES = MONITORING / "steadydesk-bridges-alerts.yml"
DASHBOARD = MONITORING / "steadydesk-dashboard.json"
RUNBOOK = REPO_ROOT / "docs" / "operations.md"
METRIC = re.compile(r"\bsteadydesk_[a-z0-9_]+")
SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def _families(names: set[str]) -> set[str]:
    found = set()
    for name in names:
        for suffix in SERIES_SUFFIXES:
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        found.add(name)
    return found


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return {m for e in exprs for m in METRIC.findall(e)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Metric families a real node exports (loopback may read /metrics)."""
    data = tmp_path_factory.mktemp("metrics-node")
    node = ServerProcess(data, f"sqlite:///{data / 'steadydesk.db'}", name="metrics-node")
    node.start()
    try:
        text = httpx.get(node.url + "/metrics", timeout=10).text
    finally:
        node.stop()
    yield {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


@pytest.mark.parametrize("rules", [NODE_RULES, BRIDGE_RULES], ids=lambda p: p.name)
def test_promtool_accepts_the_rules(rules: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        service_unavailable("promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_node_rules_and_dashboard_name_only_exported_metrics(exported: set[str]) -> None:
    named = _families(set(METRIC.findall(NODE_RULES.read_text())) | _dashboard_metrics())
    named = {n for n in named if not n.startswith("steadydesk_bridge_")}
    assert named, "no metric found in the rules: the check checked nothing"
    assert named <= exported, f"not exported by a node: {sorted(named - exported)}"


def test_bridge_rules_name_the_bridges_metrics() -> None:
    try:
        from bots.core import metrics as bridge_metrics  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("the bridges (bots/) are not in this tree yet")
    source = Path(bridge_metrics.__file__).read_text()
    named = _families(set(METRIC.findall(BRIDGE_RULES.read_text())))
    missing = [n for n in named if f'"{n}"' not in source]
    assert not missing, f"not defined in bots/core/metrics.py: {missing}"


def test_every_alert_has_a_runbook_entry() -> None:
    runbook = RUNBOOK.read_text()
    for rules in (NODE_RULES, BRIDGE_RULES):
        alerts = re.findall(r"- alert: (\w+)", rules.read_text())
        assert alerts
        for alert in alerts:
            assert f"\n#### {alert}\n" in runbook, f"{alert}: no '#### {alert}' in {RUNBOOK}"
            assert f"docs/operations.md#{alert.lower()}" in rules.read_text()


def _alert(rules: Path, name: str) -> dict[str, Any]:
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return dict(rule)
    raise AssertionError(f"{name} is not in {rules}")


def _batch_series(instance: str, size: int, per_minute: int) -> list[dict[str, str]]:
    """steadydesk_commit_batch_size's cumulative buckets, every commit of ``size`` messages."""
    bounds = ["1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "+Inf"]
    series = []
    for le in bounds:
        step = per_minute if le == "+Inf" or size <= float(le) else 0
        series.append(
            {
                "series": f'steadydesk_commit_batch_size_bucket{{instance="{instance}",le="{le}"}}',
                "values": f"0+{step}x40",
            }
        )
    return series


def test_the_full_batches_alert_fires_near_the_cap_and_not_below(tmp_path: Path) -> None:
    """SteadydeskCommitBatchesFull, run by promtool on made-up series: commits of 1,000
    messages (the default cap) for 20 minutes fire it; commits of 300 (the old cap's
    threshold would have fired at 200) do not."""
    promtool = shutil.which("promtool")
    if promtool is None:
        service_unavailable("promtool is not installed (apt-get install prometheus)")
    rule = _alert(NODE_RULES, "SteadydeskCommitBatchesFull")
    annotations = {
        key: value.replace("{{ $labels.instance }}", "full")
        for key, value in rule["annotations"].items()
    }
    test = {
        "rule_files": [str(NODE_RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _batch_series("full", 1000, 60) + _batch_series("busy", 300, 60),
                "alert_rule_test": [
                    {
                        "eval_time": "25m",
                        "alertname": "SteadydeskCommitBatchesFull",
                        "exp_alerts": [
                            {
                                "exp_labels": {**rule["labels"], "instance": "full"},
                                "exp_annotations": annotations,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    spec = tmp_path / "full_batches_test.yml"
    spec.write_text(json.dumps(test))  # JSON is YAML
    done = subprocess.run(
        [promtool, "test", "rules", str(spec)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
