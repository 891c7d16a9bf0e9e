"""The shipped federation example pulls the fleet's series from a Prometheus, labels intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fleet.requirements import STACK_MARKS
from fleet.stack import DEPLOY, HOSTS, Fleet
from support.monitoring import PrometheusServer
from support.wait import wait_until

pytestmark = STACK_MARKS


def federation_config(fleet: Fleet) -> dict[str, Any]:
    """federation.example.yml aimed at the fleet's Prometheus, scraping every second."""
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "prometheus" / "federation.example.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    [job] = config["scrape_configs"]
    job["static_configs"] = [{"targets": [fleet.prometheus.url.removeprefix("http://")]}]
    return config


def test_a_global_prometheus_federates_the_fleet(fleet: Fleet, tmp_path: Path) -> None:
    global_prometheus = PrometheusServer(tmp_path / "global", federation_config(fleet))
    try:
        global_prometheus.start()
        verdicts = wait_until(
            lambda: global_prometheus.query('stackmedic_deployment_verdict{verdict="healthy"}'),
            60, interval=0.5, message="verdicts federated")
        up = wait_until(lambda: global_prometheus.query('up{job="stackmedic"}'), 30,
                        interval=0.5, message="the agents' up federated")
        recorded = wait_until(
            lambda: global_prometheus.query("host_name:container_cpu_usage_seconds:rate1m"),
            30, interval=0.5, message="recording rules federated")
    finally:
        global_prometheus.close()
    # honor_labels: the agents' job, instance and host, not the federation target's
    assert {s["metric"]["job"] for s in verdicts} == {"stackmedic"}
    assert {s["metric"]["host"] for s in verdicts} == set(HOSTS)
    assert {s["metric"]["host"] for s in up} == set(HOSTS)
    agents = {f"127.0.0.1:{h.agent.port}" for h in fleet.hosts.values() if h.agent}
    assert {s["metric"]["instance"] for s in up} == agents
    assert {s["metric"]["host"] for s in recorded} == set(HOSTS)
    # the regional Prometheus's external label names where the series came from
    assert {s["metric"]["prometheus"] for s in verdicts} == {"fleet-1"}
