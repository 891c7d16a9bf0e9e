"""Every panel of the shipped Grafana dashboard shows data from a Prometheus scraping agents."""

from __future__ import annotations

import time

import pytest

from fleet.dashboard import (
    BUILTINS,
    PanelQuery,
    load,
    panel_queries,
    resolve_variables,
    substitute,
    variables,
)
from fleet.requirements import needs_prometheus_stack
from fleet.stack import HOSTS, Fleet
from support.wait import wait_until

DASHBOARD = load()
QUERIES = list(panel_queries(DASHBOARD))


def test_every_panel_names_the_datasource_variable_and_has_a_unique_id() -> None:
    panels = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_every_variable_a_query_uses_is_defined() -> None:
    defined = {v["name"]: ["x"] for v in variables(DASHBOARD)}
    for query in QUERIES:
        substitute(query.expr, defined)  # raises KeyError naming an undefined variable
    assert {"host", "deployment"} <= set(defined)
    assert set(BUILTINS) >= {"__rate_interval"}


def test_panels_cover_the_fleet_views() -> None:
    titles = {p["title"] for p in DASHBOARD["panels"]}
    assert {"Deployments by host", "Recovery runs", "Top containers by CPU",
            "Top containers by memory", "Host $host"} <= titles
    [drill_down] = [p for p in DASHBOARD["panels"] if p.get("repeat")]
    assert drill_down["repeat"] == "host"


@needs_prometheus_stack
@pytest.mark.slow
@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_panel_query_returns_data(settled: Fleet, query: PanelQuery) -> None:
    prometheus = settled.prometheus
    values = resolve_variables(DASHBOARD, prometheus.query)
    assert sorted(values["host"]) == sorted(HOSTS)
    # a repeated row is drawn once per value: each must have data
    choices = [{**values, query.repeat: [one]} for one in values[query.repeat]] \
        if query.repeat else [values]
    for chosen in choices:
        promql = substitute(query.expr, chosen)
        if query.instant:
            def run(promql: str = promql) -> list[object]:
                return list(prometheus.query(promql))
        else:
            def run(promql: str = promql) -> list[object]:
                end = time.time()
                return list(prometheus.query_range(promql, end - 120, end, 5))
        wait_until(run, 30, interval=0.5, message=f"data for {query.id}: {promql}")
