"""Three agents, one Prometheus, an Alertmanager cluster: a crash on h2, seen fleet-wide."""

from __future__ import annotations

import httpx

from fleet.conftest import CrashOnH2
from fleet.requirements import STACK_MARKS
from fleet.stack import HOSTS, Fleet
from support.wait import wait_until

pytestmark = STACK_MARKS


def test_prometheus_scrapes_every_agent_under_its_host(fleet: Fleet) -> None:
    info = fleet.prometheus.query("stackmedic_agent_info")
    assert sorted(s["metric"]["host"] for s in info) == sorted(HOSTS)
    for sample in fleet.prometheus.query('up{job="stackmedic"}'):
        host = fleet.hosts[sample["metric"]["host"]]
        assert host.agent is not None
        assert sample["metric"]["instance"] == f"127.0.0.1:{host.agent.port}"
        assert sample["value"][1] == "1"


def test_metrics_answer_only_with_the_fleet_read_token(fleet: Fleet) -> None:
    agent = fleet.hosts["h1"].agent
    assert agent is not None
    assert httpx.get(f"{agent.url}/metrics", timeout=10).status_code == 401
    scraped = httpx.get(f"{agent.url}/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {fleet.read_token}"})
    assert scraped.status_code == 200
    assert 'host="h1"' in scraped.text


def test_the_shipped_rules_load_and_evaluate(fleet: Fleet) -> None:
    groups = fleet.prometheus.rule_groups()
    assert {g["name"] for g in groups} >= {"stackmedic.recording", "stackmedic.deployments"}
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
              if r["health"] == "err"]
    assert broken == []


def test_the_recording_rules_fit_the_agents_series(fleet: Fleet) -> None:
    def per_host(promql: str) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for sample in fleet.prometheus.query(promql):
            found.setdefault(sample["metric"]["host"], []).append(float(sample["value"][1]))
        return found

    def every_host(promql: str) -> dict[str, list[float]]:
        def complete() -> dict[str, list[float]] | None:
            found = per_host(promql)
            return found if set(found) == set(HOSTS) else None

        return wait_until(complete, 30, interval=0.5, message=f"{promql} for every host")

    # the burners' `cpus: 0.1`, as cores
    limits = every_host('host_name:container_spec_cpu_limit:cores{name=~".*burner.*"}')
    assert all(v == [0.1] for v in limits.values()), limits
    assert every_host("host_name:container_cpu_usage_seconds:rate1m")
    ratios = every_host("host_name:container_memory_working_set:ratio_limit")
    assert all(0 < r < 0.9 for values in ratios.values() for r in values), ratios
    counts = every_host('host_verdict:stackmedic_deployments:sum{verdict="healthy"}')
    assert counts["h1"] == [1] and counts["h3"] == [1]


def test_the_crash_shows_in_prometheus_with_host_h2(crash_on_h2: CrashOnH2) -> None:
    assert crash_on_h2.ill_in_prometheus
    for sample in crash_on_h2.ill_in_prometheus:
        assert sample["metric"]["host"] == "h2"
        assert sample["metric"]["deployment"] == crash_on_h2.deployment


def test_other_hosts_stayed_healthy_throughout(fleet: Fleet, crash_on_h2: CrashOnH2) -> None:
    ever_ill = fleet.prometheus.query(
        "max by (host) (max_over_time(host_deployment:stackmedic_deployment_ill:max[10m]))")
    by_host = {s["metric"]["host"]: s["value"][1] for s in ever_ill}
    assert by_host == {"h1": "0", "h2": "1", "h3": "0"}


def test_every_cluster_member_received_the_alert(crash_on_h2: CrashOnH2) -> None:
    assert len(crash_on_h2.alerts_per_member) == 2
    for alerts in crash_on_h2.alerts_per_member:
        [alert] = alerts
        assert alert["labels"]["host"] == "h2"
        assert alert["labels"]["deployment"] == crash_on_h2.deployment
        assert alert["status"]["state"] == "active"


def test_one_grouped_notification_then_one_resolved(
    fleet: Fleet, crash_on_h2: CrashOnH2
) -> None:
    sent = crash_on_h2.notifications
    assert [n["status"] for n in sent] == ["firing", "resolved"], sent
    firing, resolved = sent
    group = {"host": "h2", "deployment": crash_on_h2.deployment}
    assert firing["groupLabels"] == group
    assert firing["receiver"] == "ops-pager"  # the shipped route for critical alerts
    assert resolved["groupLabels"] == group
    # one alert for the deployment, telling both services' exits
    [alert] = firing["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"]["severity"] == "critical"
    assert "web exited with code 137" in alert["annotations"]["reason"]
    assert "worker exited with code 137" in alert["annotations"]["reason"]
    [back] = resolved["alerts"]
    assert back["status"] == "resolved"
    assert back["labels"] == alert["labels"]
    # one member sent both; the other found them in the gossiped notification log
    assert sorted(crash_on_h2.sent_per_member) == [0, 2]
    [sender] = {n["externalURL"] for n in sent}
    assert sender in fleet.alertmanagers.urls
