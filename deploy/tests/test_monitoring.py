"""The monitoring component: its rules parse, and every expression (rules and dashboard) names documented metrics."""

import json
import re
from typing import Any

import pytest
from deploy_support import K8S, REPO, named, render

MONITORING = K8S / "components" / "monitoring"
OPERATIONS = REPO / "docs" / "operations.md"
# a documented metric: the first cell of a row of a table of docs/operations.md
DOCUMENTED = re.compile(r"^\| `([a-z_:][a-z0-9_:]*)` \|", re.MULTILINE)
# what PromQL writes besides metric names
PROMQL_WORDS = frozenset(
    {
        "sum", "min", "max", "avg", "count", "stddev", "topk", "bottomk", "quantile", "count_values", "group",
        "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "abs",
        "absent", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "label_values", "vector",
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    }
)  # fmt: skip
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")  # no documented metric ends so: they are a histogram's series


def documented_metrics() -> set[str]:
    return set(DOCUMENTED.findall(OPERATIONS.read_text()))


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: its identifiers less label matchers, groupings, strings, ranges,
    numbers, Grafana variables and PromQL's own words; a histogram's series count as the histogram."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    bare = re.sub(r"\{[^}]*\}", "", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", "", bare)  # ranges
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)  # groupings
    bare = re.sub(r"\$\{?\w+\}?", "", bare)  # Grafana variables
    bare = re.sub(r"label_values\(([^,)]*),[^)]*\)", r"\1", bare)  # Grafana's query of a label's values
    names = set()
    for word in re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        if word.lower() in PROMQL_WORDS or word in ("e", "inf", "nan"):
            continue
        names.add(next((word.removesuffix(s) for s in HISTOGRAM_SUFFIXES if word.endswith(s)), word))
    return names


@pytest.fixture(scope="module")
def component() -> list[dict[str, Any]]:
    return render(MONITORING)


def rules(component: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rule = named(component, "PrometheusRule", "pledge")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def dashboard_exprs(component: list[dict[str, Any]]) -> list[str]:
    config_map = named(component, "ConfigMap", "pledge-dashboard")
    dashboard = json.loads(config_map["data"]["pledge-dashboard.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    return exprs


class TestMetricNames:
    def test_names_are_read_from_an_expression(self) -> None:
        expr = 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(x_total[5m])) > 0.05'
        assert metric_names(expr) == {"http_requests_total", "x_total"}

    def test_a_histogram_series_counts_as_its_histogram(self) -> None:
        expr = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
        assert metric_names(expr) == {"http_request_duration_seconds"}

    def test_a_grafana_variable_query_names_its_metric_not_its_label(self) -> None:
        assert metric_names('label_values(http_requests_total{service=~"$service"}, route)') == {"http_requests_total"}

    def test_the_documented_metrics_are_found(self) -> None:
        found = documented_metrics()
        assert {"http_requests_total", "pledge_alerts_raised_total", "pledge_db_pool_max"} <= found


def test_the_rules_cover_lag_backlog_5xx_delivery_failures_and_pool_saturation(
    component: list[dict[str, Any]],
) -> None:
    alerts = {r["alert"]: r for r in rules(component)}
    assert set(alerts) == {
        "PledgeFeedLagHigh",
        "PledgeSenderBacklog",
        "PledgeHigh5xxRate",
        "PledgeWebhookDeliveryFailures",
        "PledgeNotificationDeliveryFailures",
        "PledgeDbPoolSaturated",
    }
    for alert in alerts.values():
        assert re.fullmatch(r"\d+[smh]", alert["for"]), alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"]
        assert alert["expr"].count("(") == alert["expr"].count(")"), alert["alert"]


def test_every_rule_names_only_documented_metrics(component: list[dict[str, Any]]) -> None:
    known = documented_metrics()
    unknown = {r["alert"]: metric_names(r["expr"]) - known for r in rules(component)}
    assert {alert: names for alert, names in unknown.items() if names} == {}
    assert all(metric_names(r["expr"]) for r in rules(component))  # each reads at least one metric


def test_every_dashboard_panel_names_only_documented_metrics(component: list[dict[str, Any]]) -> None:
    known = documented_metrics()
    exprs = dashboard_exprs(component)
    assert len(exprs) >= 10
    assert {e: metric_names(e) - known for e in exprs if metric_names(e) - known} == {}


def test_the_dashboard_is_labelled_for_grafanas_sidecar(component: list[dict[str, Any]]) -> None:
    config_map = named(component, "ConfigMap", "pledge-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
