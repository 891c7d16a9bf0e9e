"""cAdvisor dashboards' core queries work on the agents' series and match the engine's figures."""

from __future__ import annotations

import time
from typing import Any

import httpx

from fleet.requirements import STACK_MARKS
from fleet.stack import CACHE_BYTES, HOSTS, MEMORY_LIMIT, Fleet, FleetHost
from support.compose import run_docker
from support.wait import wait_until

pytestmark = STACK_MARKS

PROJECT = "container_label_com_docker_compose_project"
WINDOW = 30


def engine_stats(host: FleetHost, container: str) -> dict[str, Any]:
    """The engine's own one-shot stats of a container."""
    socket = str(host.daemon.socket_path)
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket), timeout=30) as client:
        response = client.get(f"http://docker/containers/{container}/stats",
                              params={"stream": "false"})
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


def container_name(host: FleetHost, service: str) -> str:
    """The name the engine gives the site's container of ``service``."""
    [row] = [r for r in host.site.ps() if r["Service"] == service]
    return str(row["Name"])


def by_name(result: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["metric"]["name"]: s for s in result}


# As the usual cAdvisor dashboards write them (per container, then per Compose project).
CORE_QUERIES = {
    "cpu": 'sum(rate(container_cpu_usage_seconds_total{name=~".+"}[1m])) by (name)',
    "working set": 'sum(container_memory_working_set_bytes{name=~".+"}) by (name)',
    "limit": 'sum(container_spec_memory_limit_bytes{name=~".+"}) by (name)',
}


def test_core_queries_cover_every_container_of_every_host(fleet: Fleet) -> None:
    wanted = {container_name(h, s) for h in fleet.hosts.values() for s in ("burner", "cache")}
    for what, promql in CORE_QUERIES.items():
        wait_until(lambda p=promql: wanted <= set(by_name(fleet.prometheus.query(p))), 60,
                   interval=0.5, message=f"{what} of every site container")


def test_core_queries_group_by_compose_project(fleet: Fleet) -> None:
    sites = {h.site.name: name for name, h in fleet.hosts.items()}
    for what, promql in CORE_QUERIES.items():
        per_project = promql.replace("by (name)", f"by ({PROJECT}, host)")
        rows = {(s["metric"].get(PROJECT), s["metric"]["host"])
                for s in fleet.prometheus.query(per_project)}
        assert set(sites.items()) <= rows, what
    limits = fleet.prometheus.query(
        f'container_spec_memory_limit_bytes{{{PROJECT}=~".+-site",'
        ' container_label_com_docker_compose_service=~"burner|cache"}')
    assert {float(s["value"][1]) for s in limits} == {MEMORY_LIMIT}
    assert len(limits) == 2 * len(HOSTS)


def test_working_set_and_limit_agree_with_the_engine(fleet: Fleet) -> None:
    host = fleet.hosts["h1"]
    cache = container_name(host, "cache")
    selector = f'{{name="{cache}", host="h1"}}'

    def agreeing() -> dict[str, Any] | None:
        memory = engine_stats(host, cache)["memory_stats"]
        # cgroup v1 names it total_inactive_file, v2 inactive_file
        inactive = memory["stats"].get("total_inactive_file", memory["stats"].get("inactive_file"))
        engine = memory["usage"] - inactive
        result = fleet.prometheus.query(f"container_memory_working_set_bytes{selector}")
        if not result or engine < CACHE_BYTES:
            return None  # not scraped yet, or still filling its 16 MB
        ours = float(result[0]["value"][1])
        figures = {"engine": engine, "ours": ours, "limit": memory["limit"]}
        return figures if abs(ours - engine) <= 0.05 * engine else None

    # The engine is read after the scrape: both see a steady 16 MB, so they agree within 5%
    # unless the figures differ in kind.
    figures = wait_until(agreeing, 60, interval=0.5, message="working set within 5% of engine's")
    [limit] = fleet.prometheus.query(f"container_spec_memory_limit_bytes{selector}")
    assert float(limit["value"][1]) == figures["limit"] == MEMORY_LIMIT
    [row] = fleet.prometheus.query(
        f'sum by (name, {PROJECT}) (container_memory_working_set_bytes{selector})')
    assert row["metric"][PROJECT] == host.site.name


def test_cpu_rate_agrees_with_the_engine_within_5_percent(fleet: Fleet) -> None:
    host = fleet.hosts["h1"]
    burner = container_name(host, "burner")
    container_id = run_docker("inspect", "--format", "{{.Id}}", burner,
                              docker_host=host.daemon.host).stdout.strip()

    def usage() -> tuple[float, float]:
        stats = engine_stats(host, container_id)
        return time.time(), stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9

    start, used_start = usage()
    # The window ends once Prometheus holds a sample taken after it.
    wait_until(lambda: fleet.prometheus.query(
        f'timestamp(container_cpu_usage_seconds_total{{name="{burner}"}}) > {start + WINDOW}'),
        WINDOW + 30, interval=0.5, message="a scrape after the measuring window")
    end, used_end = usage()
    engine_rate = (used_end - used_start) / (end - start)
    window = f"{round((end - start) * 1000)}ms"  # the engine's window, ending at the same time
    [ours] = fleet.prometheus.query(
        f'sum(rate(container_cpu_usage_seconds_total{{name="{burner}", host="h1"}}'
        f"[{window}]))", at=end)
    rate = float(ours["value"][1])
    assert engine_rate > 0.02, "the burner did not run"
    assert abs(rate - engine_rate) <= 0.05 * engine_rate, (rate, engine_rate)
