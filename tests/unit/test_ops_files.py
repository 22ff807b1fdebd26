"""docs/ops: the Prometheus alert rules and the Grafana dashboard parse, and every ccpor_ metric they
name is one the hub exports (hub.metrics, or the outbox figures read at scrape) -- so a renamed
metric cannot leave an alert that never fires."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import Counter, Histogram

from hub import metrics

OPS = Path(__file__).resolve().parents[2] / "docs" / "ops"
NAME = re.compile(r"\bccpor_[a-z_]+\b")


def exported() -> set[str]:
    """Every series name the hub's /metrics can carry."""
    names = {"ccpor_outbox_messages", "ccpor_outbox_oldest_waiting_seconds"}  # hub.api.probes.QueueFigures
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return names


def test_the_alert_rules_name_only_exported_metrics_and_each_has_a_runbook_entry():
    rules = yaml.safe_load((OPS / "ccpor-alerts.yml").read_text())["groups"][0]["rules"]
    runbook = (OPS.parent / "OPERATIONS.md").read_text()
    assert len(rules) >= 8
    for rule in rules:
        used = set(NAME.findall(rule["expr"]))
        assert used <= exported(), (rule["alert"], used - exported())
        entry = rule["annotations"]["runbook"].split("runbook: ")[1]
        assert f"**{entry}**" in runbook, f"{rule['alert']}: no '{entry}' in OPERATIONS.md's runbook"


def test_the_dashboard_names_only_exported_metrics():
    dashboard = json.loads((OPS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used and used <= exported(), used - exported()
    assert {"ccpor_soap_calls_total", "ccpor_outbox_messages", "ccpor_carpos_answers_total"} <= used
