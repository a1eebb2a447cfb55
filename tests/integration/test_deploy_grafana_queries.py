"""Every query in the shipped Grafana dashboards runs against the real warehouse schema.

The dashboards in deploy/grafana/dashboards are parsed; each ClickHouse target's SQL (and each
ClickHouse template variable) has its Grafana macros replaced the way the ClickHouse data source
plugin expands them, and is run read-only on the embedded warehouse built by the migrations.
Prometheus expressions must name metrics declared in sinks/prometheus/metrics.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from sinks.clickhouse.client import Warehouse
from sinks.prometheus import metrics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"

FROM = datetime(2026, 3, 1, tzinfo=UTC)
TO = datetime(2026, 4, 1, tzinfo=UTC)
INTERVAL_SECONDS = 60
VARIABLES = {"force": "cambs"}


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _time_filter(col: str) -> str:
    return f"{col} >= toDateTime({_seconds(FROM)}) AND {col} <= toDateTime({_seconds(TO)})"


def _time_filter_ms(col: str) -> str:
    return (
        f"{col} >= fromUnixTimestamp64Milli({_millis(FROM)}) "
        f"AND {col} <= fromUnixTimestamp64Milli({_millis(TO)})"
    )


def _date_filter(col: str) -> str:
    return f"{col} >= toDate('{FROM.date()}') AND {col} <= toDate('{TO.date()}')"


FUNCTION_MACROS = {
    "timeFilter_ms": lambda args: _time_filter_ms(args[0]),
    "timeFilter": lambda args: _time_filter(args[0]),
    "dateFilter": lambda args: _date_filter(args[0]),
    "dateTimeFilter": lambda args: f"{_date_filter(args[0])} AND {_time_filter(args[1])}",
    "dt": lambda args: f"{_date_filter(args[0])} AND {_time_filter(args[1])}",
    "timeInterval_ms": lambda args: (
        f"toStartOfInterval(toDateTime64({args[0]}, 3), INTERVAL {INTERVAL_SECONDS * 1000} millisecond)"
    ),
    "timeInterval": lambda args: (
        f"toStartOfInterval(toDateTime({args[0]}), INTERVAL {INTERVAL_SECONDS} second)"
    ),
}
VALUE_MACROS = {
    "fromTime_ms": f"fromUnixTimestamp64Milli({_millis(FROM)})",
    "toTime_ms": f"fromUnixTimestamp64Milli({_millis(TO)})",
    "fromTime": f"toDateTime({_seconds(FROM)})",
    "toTime": f"toDateTime({_seconds(TO)})",
    "interval_s": str(INTERVAL_SECONDS),
}
_FUNCTION = re.compile(r"\$__(" + "|".join(FUNCTION_MACROS) + r")\(([^()]*)\)")
_VALUE = re.compile(r"\$__(" + "|".join(VALUE_MACROS) + r")\b")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def expand(sql: str) -> str:
    """The SQL with Grafana macros and dashboard variables replaced by fixed literals.

    Raises ValueError for a macro or variable this expander does not know (a dashboard must use
    only macros the test can check).
    """
    sql = _FUNCTION.sub(
        lambda m: FUNCTION_MACROS[m.group(1)]([a.strip() for a in m.group(2).split(",")]), sql
    )
    sql = _VALUE.sub(lambda m: VALUE_MACROS[m.group(1)], sql)

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise ValueError(f"unknown Grafana macro or variable {match.group(0)!r}")
        return VARIABLES[name]

    return _VARIABLE.sub(variable, sql)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def is_clickhouse(node: dict[str, Any], panel: dict[str, Any] | None = None) -> bool:
    source = node.get("datasource") or (panel or {}).get("datasource") or {}
    return isinstance(source, dict) and source.get("type") == CLICKHOUSE_PLUGIN


def clickhouse_queries() -> list[tuple[str, str]]:
    """(label, raw SQL) of every ClickHouse panel target and template variable."""
    found = []
    for path in DASHBOARDS:
        board = load(path)
        for panel in panels(board):
            for target in panel.get("targets", []):
                if is_clickhouse(target, panel):
                    found.append((f"{path.stem}: {panel['title']}", target["rawSql"]))
        for var in board.get("templating", {}).get("list", []):
            if is_clickhouse(var):
                found.append((f"{path.stem}: ${var['name']}", var["query"]["rawSql"]))
    return found


def prometheus_exprs() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((f"{path.stem}: {panel['title']}", target["expr"]))
    return found


QUERIES = clickhouse_queries()


def test_every_dashboard_is_shipped_with_clickhouse_and_prometheus_panels() -> None:
    names = {p.stem for p in DASHBOARDS}
    assert {"live-queues", "incidents", "crime", "pipeline-health"} <= names
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        labels = {label.split(":")[0] for label, _ in QUERIES}
        assert path.stem in labels, f"{path.name} has no ClickHouse query"
        assert any(label.startswith(path.stem) for label, _ in prometheus_exprs()), path.name


def test_expand_replaces_plugin_macros() -> None:
    sql = expand(
        "SELECT $__timeInterval(t) FROM x WHERE $__timeFilter(t) AND f = '${force}' AND d < $__toTime"
    )
    assert "$" not in sql
    assert f"t >= toDateTime({_seconds(FROM)}) AND t <= toDateTime({_seconds(TO)})" in sql
    assert "f = 'cambs'" in sql
    with pytest.raises(ValueError, match="unknown"):
        expand("SELECT $__unknownMacro(x)")


@pytest.mark.parametrize(("label", "sql"), QUERIES, ids=[label for label, _ in QUERIES])
def test_clickhouse_query_runs_on_the_warehouse(wh: Warehouse, label: str, sql: str) -> None:
    query = expand(sql)
    wh.query(query, settings={"readonly": 1})  # raises on an unknown table, column or function
    columns = wh.query(f"DESCRIBE TABLE ({query})").rows
    assert columns, label


def test_force_variable_lists_forces_seen_in_the_ledger(wh: Warehouse) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    row = ["cambs", "C1", "cad", "e1", "call.offered.v1", now, now, "{}"]
    wh.insert("events", [row], ["force_id", "subject", "source", "id", "type", "time", "ingest_time", "data"])
    board = load(GRAFANA / "dashboards" / "live-queues.json")
    (var,) = [v for v in board["templating"]["list"] if v["name"] == "force"]
    assert wh.query(expand(var["query"]["rawSql"])).rows == [("cambs",)]
    (ledger,) = [
        sql for label, sql in QUERIES if label.endswith("Ledger events per interval by source (event time)")
    ]
    # One event at 12:00 falls in the 60 s interval starting at 12:00.
    assert wh.query(expand(ledger)).rows == [(now.replace(tzinfo=None), "cad", 1)]


def declared_series() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_bucket", f"{value._name}_sum", f"{value._name}_count"}
        elif isinstance(value, Gauge):
            names.add(value._name)
    return names


def test_prometheus_panels_and_alerts_use_declared_metrics() -> None:
    declared = declared_series()
    exprs = prometheus_exprs()
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs += [(rule["alert"], rule["expr"]) for group in alerts["groups"] for rule in group["rules"]]
    assert exprs
    for label, expr in exprs:
        for name in re.findall(r"\bdemandhub_[a-z0-9_]+", expr):
            assert name in declared, f"{label}: {name} is not declared in sinks/prometheus/metrics.py"


def test_provisioned_datasources_match_the_dashboards() -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "demandhub.yaml").read_text())
    sources = {s["uid"]: s for s in provisioning["datasources"]}
    clickhouse = sources["clickhouse"]
    assert clickhouse["type"] == CLICKHOUSE_PLUGIN
    assert clickhouse["jsonData"]["username"] == "analyst"
    assert clickhouse["secureJsonData"]["password"] == "$CLICKHOUSE_ANALYST_PASSWORD"
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for node in [panel, *panel.get("targets", [])]:
                source = node.get("datasource")
                if isinstance(source, dict):
                    assert source["uid"] in sources, f"{path.name}: {panel['title']}"
                    assert source["type"] == sources[source["uid"]]["type"]
