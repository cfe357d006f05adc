"""Alert rules and the Grafana dashboard use only metrics the services define (one list:
deploy/prometheus/metrics.yaml); promtool runs the rules' own unit tests (make test-rules)."""

import json
import re
from typing import Any

import yaml

from ensemble_devkit import REPO_ROOT

from .conftest import DEPLOY

METRICS_FILE = DEPLOY / "prometheus" / "metrics.yaml"
RULES = yaml.safe_load((DEPLOY / "prometheus" / "rules.yaml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana" / "ensemble.json").read_text())
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"\b(ensemble_[a-z0-9_]+|up)\b(?=\s*[{\[)])|\b(ensemble_[a-z0-9_]+)\b")


def listed() -> dict[str, tuple[str, str]]:
    """metric -> (defining module, type) from metrics.yaml."""
    document: dict[str, dict[str, str]] = yaml.safe_load(METRICS_FILE.read_text())
    return {
        metric: (module, kind)
        for module, names in document.items()
        for metric, kind in names.items()
    }


def metric_names(expr: str) -> set[str]:
    known = listed()
    names = set()
    for match in NAME.finditer(expr):
        name = match.group(1) or match.group(2)
        if name not in known and name.endswith(HISTOGRAM_SERIES):
            name = name.rsplit("_", 1)[0]
        names.add(name)
    return names


def rule_exprs() -> list[str]:
    return [rule["expr"] for group in RULES["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_each_listed_metric_is_defined_where_the_list_says():
    for metric, (module, kind) in listed().items():
        if module == "prometheus":
            continue
        source = (REPO_ROOT / module).read_text()
        assert f'"{metric}"' in source, f"{metric} is no longer defined in {module}"
        assert kind in {"counter", "gauge", "histogram"}


def test_rules_and_dashboard_use_only_listed_metrics():
    known = listed()
    for expr in rule_exprs() + dashboard_exprs():
        unknown = metric_names(expr) - set(known)
        assert not unknown, f"{sorted(unknown)} in {expr!r} (add to metrics.yaml or fix)"
    for expr in dashboard_exprs():
        for match in re.finditer(r"\b(ensemble_[a-z0-9_]+?)_bucket\b", expr):
            assert known[match.group(1)][1] == "histogram", expr


def test_the_asked_for_alerts_exist_with_severity_and_summary():
    alerts: dict[str, dict[str, Any]] = {
        rule["alert"]: rule for group in RULES["groups"] for rule in group["rules"]
    }
    watched = {
        "EnsembleServiceDown": "up",
        "EnsembleConsumerLag": "ensemble_consumer_lag",
        "EnsembleOutboxStuck": "ensemble_outbox_oldest_unpublished_age_seconds",
        "EnsembleDeadLettersArriving": "ensemble_dead_letter_depth",
        "EnsembleSenderSilent": "ensemble_hospital_feed_sender_quiet_seconds",
    }
    for alert, metric in watched.items():
        assert metric in metric_names(alerts[alert]["expr"]), alert
    for alert, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, alert
        assert rule["annotations"]["summary"], alert


def test_every_alert_has_a_promtool_unit_test():
    tests = yaml.safe_load((DEPLOY / "prometheus" / "rules.test.yaml").read_text())
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    alerts = {rule["alert"] for group in RULES["groups"] for rule in group["rules"]}
    assert tested == alerts


def test_the_dashboard_is_a_grafana_dashboard_of_prometheus_panels():
    assert DASHBOARD["uid"] == "ensemble-system"
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["type"] == "prometheus"
        assert panel["targets"], panel["title"]
        assert all(panel["gridPos"][k] >= 0 for k in ("x", "y"))
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert variables == {"datasource", "service"}
