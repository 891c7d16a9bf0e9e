"""The community cAdvisor dashboards and alert rules work unchanged on the agents' series.

Every panel query (hidden targets too) of dockprom's Docker Containers dashboard and of
Grafana.com's 193 and 893, and every rule expression of dockprom's and of
awesome-prometheus-alerts' cAdvisor rules, runs in the fleet's Prometheus and returns
data, except the queries that need node-exporter's host series or the kubelet's
container/pod labels (``community.CommunityQuery.exception`` says which and why); the
cAdvisor selectors inside those must return data all the same. The sites run a web
server with a client fetching from it, a writer syncing to a volume and a CPU burner.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from fleet.community import (
    NEEDS_KUBELET,
    NEEDS_NODE_EXPORTER,
    CommunityQuery,
    dashboard_queries,
    rule_queries,
)
from fleet.requirements import STACK_MARKS
from fleet.stack import Fleet, FleetHost
from fleet.test_cadvisor_queries import container_name, engine_stats
from metrics.test_cadvisor_docker import read_time
from support.compose import run_docker
from support.wait import wait_until

pytestmark = STACK_MARKS

# Rules comparing a rate with its value a minute before need that much history.
HISTORY_SECONDS = 240
# Enough that one sample interval of traffic is well under 5 % of the total.
MIN_TRAFFIC = 8_000_000


def container_id(host: FleetHost, service: str) -> str:
    return run_docker("inspect", "--format", "{{.Id}}", container_name(host, service),
                      docker_host=host.daemon.host).stdout.strip()


def test_every_community_query_and_rule_returns_data(fleet: Fleet) -> None:
    queries: list[CommunityQuery] = [*dashboard_queries(), *rule_queries()]
    burner = container_name(fleet.hosts["h1"], "burner")
    todo: dict[str, str] = {}
    for q in queries:
        if q.exception is None:
            todo[q.id] = q.runnable(burner)
        for index, selector in enumerate(q.selectors(burner)):
            todo[f"{q.id} / selector {index} ({q.exception or 'runs'})"] = selector
    assert len(queries) >= 80 and len(todo) >= 80, "the community files were not all read"

    def all_answered() -> bool:
        with ThreadPoolExecutor(8) as pool:
            answered = dict(zip(todo, pool.map(fleet.prometheus.query, todo.values()),
                                strict=True))
        for key, result in answered.items():
            if result:
                del todo[key]
        return not todo

    try:
        wait_until(all_answered, HISTORY_SECONDS, interval=2, message="every query answered")
    except AssertionError:
        raise AssertionError("no data for:\n" + "\n".join(
            f"  {key}: {promql}" for key, promql in todo.items())) from None
    excepted = [q for q in queries if q.exception is not None]
    node = sum(q.exception == NEEDS_NODE_EXPORTER for q in excepted)
    kubelet = sum(q.exception == NEEDS_KUBELET for q in excepted)
    print(f"{len(queries) - len(excepted)} of {len(queries)} community queries and rules"
          f" return data; {node} need node-exporter, {kubelet} the kubelet")
    # The exceptions are the host and kubelet ones only, never a container query.
    assert {q.exception for q in excepted} <= {NEEDS_NODE_EXPORTER, NEEDS_KUBELET}
    assert kubelet == 3  # awesome-prometheus-alerts' CPU utilisation and throttle-rate rules


def engine_network(host: FleetHost, cid: str) -> tuple[float, float, float]:
    """When the engine read the container's counters, and its NET I/O (received, sent)."""
    stats = engine_stats(host, cid)
    networks = stats["networks"].values()
    return (read_time(stats), float(sum(n["rx_bytes"] for n in networks)),
            float(sum(n["tx_bytes"] for n in networks)))


def ours_at(fleet: Fleet, selector: str, at: float) -> float | None:
    """Our counter at ``at``, interpolated between the samples read around it (each sample
    carries the time its namespace was read); None until one read after ``at`` is stored."""
    found = fleet.prometheus.query(f"{selector}[30s]", at=at + 5)
    points = sorted((float(t), float(v)) for series in found for t, v in series["values"])
    before = [p for p in points if p[0] <= at]
    after = [p for p in points if p[0] >= at]
    if not before or not after:
        return None
    (t0, v0), (t1, v1) = before[-1], after[0]
    return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)


def test_network_bytes_agree_with_docker_stats_within_5_percent(fleet: Fleet) -> None:
    """NET I/O as `docker stats` shows it (received by the client, sent by the server)
    against our counter at the very time the engine read its figures."""
    host = fleet.hosts["h1"]
    for service, direction, index in (("client", "receive", 1), ("web", "transmit", 2)):
        name, cid = container_name(host, service), container_id(host, service)
        wait_until(lambda c=cid, i=index: engine_network(host, c)[i] > MIN_TRAFFIC, 120,
                   interval=1, message=f"{MIN_TRAFFIC} bytes through {name}")
        figures = engine_network(host, cid)
        selector = f'container_network_{direction}_bytes_total{{name="{name}", host="h1"}}'
        ours = wait_until(lambda s=selector, t=figures[0]: ours_at(fleet, s, t), 30,
                          interval=0.5, message=f"{selector} read after the engine's reading")
        engine = figures[index]
        assert abs(ours - engine) <= 0.05 * engine, (name, direction, ours, engine)
    [interface] = {s["metric"]["interface"] for s in fleet.prometheus.query(
        f'container_network_receive_bytes_total{{name="{container_name(host, "client")}",'
        ' host="h1"}')}
    assert interface == "eth0"


def test_machine_root_filesystem_and_label_series(fleet: Fleet) -> None:
    host = fleet.hosts["h1"]
    h1 = '{host="h1"}'

    def value(promql: str) -> float:
        found = fleet.prometheus.query(promql)
        assert found, promql
        return float(found[0]["value"][1])

    assert value(f"machine_cpu_cores{h1}") == os.cpu_count()
    assert value(f"machine_memory_bytes{h1}") == psutil.virtual_memory().total
    root = '{id="/", host="h1"}'
    assert value(f"container_memory_rss{root}") > 0
    assert value(f"sum(container_network_receive_bytes_total{root})") > 0
    assert value(f"rate(container_cpu_system_seconds_total{root}[30s])") > 0
    burner = container_name(host, "burner")
    user = value(f'rate(container_cpu_user_seconds_total{{name="{burner}", host="h1"}}[30s])')
    assert 0.01 < user <= 0.1 * 1.1  # the burner spins in user space, held to 0.1 core
    writer = f'{{name="{container_name(host, "writer")}", host="h1"}}'
    usage = wait_until(lambda: fleet.prometheus.query(
        f"sum(container_fs_usage_bytes{writer}) >= {16 * 65536}"), 60, interval=1,
        message="the writer's 1 MiB on its volume counted")
    assert usage
    assert value(f"min(container_fs_limit_bytes{writer})") > value(
        f"sum(container_fs_usage_bytes{writer})")
    assert 0 < value(f"min(container_fs_inodes_free{writer})") < value(
        f"min(container_fs_inodes_total{writer})")
    [row] = fleet.prometheus.query(
        f'container_memory_usage_bytes{{name="{burner}", host="h1"}}')
    assert row["metric"]["container_label_com_docker_compose_project_working_dir"] == str(
        host.site.path)


@pytest.mark.parametrize("service", ["burner"])
def test_cfs_periods_count_under_a_quota_only(fleet: Fleet, service: str) -> None:
    host = fleet.hosts["h1"]
    name = container_name(host, service)
    periods = fleet.prometheus.query(
        f'rate(container_cpu_cfs_periods_total{{name="{name}", host="h1"}}[30s])')
    throttled = fleet.prometheus.query(
        f'rate(container_cpu_cfs_throttled_periods_total{{name="{name}", host="h1"}}[30s])')
    # A period counts when the burner had work in it: up to 10 a second at 100 ms, fewer
    # when the machine is too busy to run it every period.
    assert periods and float(periods[0]["value"][1]) > 0
    assert throttled and 0 < float(throttled[0]["value"][1]) <= float(periods[0]["value"][1])
    cache = container_name(host, "cache")
    assert not fleet.prometheus.query(
        f'container_cpu_cfs_periods_total{{name="{cache}", host="h1"}}')
