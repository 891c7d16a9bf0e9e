"""A fleet on one machine: three "hosts" (private dockerds), an agent each, Prometheus, an
Alertmanager cluster and a webhook receiver, wired as the deploy/ examples describe."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support.agent import RECOVERY_ON, AgentProcess, agent_config, free_port, merge
from support.deployments import Deployment, DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.monitoring import AlertmanagerCluster, PrometheusServer
from support.servers import HttpReceiver
from support.wait import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "stackmedic.rules.yml"
HOSTS = ("h1", "h2", "h3")
SCRAPE_SECONDS = 1
# How long an Alertmanager waits per position in the cluster before sending what its
# peers may already have sent (it then finds their entry in the gossiped notification log).
PEER_TIMEOUT = 2.0
CACHE_BYTES = 16_000_000
BLOB_BYTES = 200_000
TRAFFIC_HOST = "h1"  # the host whose site also serves, fetches and writes
# How often the agents walk the containers' writable layers and volumes (default 300 s).
FS_INTERVAL_SECONDS = 5
MEMORY_LIMIT = 64 * 1024 * 1024


@dataclass
class FleetHost:
    """One "host": its daemon, its deployments and its agent."""

    name: str
    daemon: PrivateDockerd
    factory: DeploymentFactory
    site: Deployment
    agent: AgentProcess | None = None
    extra: dict[str, Deployment] = field(default_factory=dict)


@dataclass
class Fleet:
    """Everything the fleet tests query."""

    hosts: dict[str, FleetHost]
    read_token: str
    prometheus: PrometheusServer
    alertmanagers: AlertmanagerCluster
    receiver: HttpReceiver


def site_services(host: str = "h1") -> dict[str, Any]:
    """What every host runs: a CPU burner held to 0.1 core and a 16 MB memory holder; h1
    also a web server with a client fetching from it and a writer syncing to a volume."""
    services = {
        "burner": service("while :; do :; done", cpus=0.1, mem_limit=MEMORY_LIMIT),
        # tail keeps its unterminated last "line" in memory until the pipe closes
        "cache": service(f"(head -c {CACHE_BYTES} /dev/zero; sleep 3600) | tail",
                         mem_limit=MEMORY_LIMIT),
    }
    if host != TRAFFIC_HOST:
        return services
    return {
        **services,
        "web": service(f"mkdir -p /www && head -c {BLOB_BYTES} /dev/zero > /www/blob"
                       " && exec httpd -f -p 8080 -h /www"),
        "client": service("while :; do wget -q -O /dev/null http://web:8080/blob; sleep 0.5;"
                          " done", depends_on=["web"]),
        "writer": service("while :; do dd if=/dev/urandom of=/data/f bs=65536 count=16"
                          " conv=fsync 2>/dev/null; sleep 2; done",
                          volumes=["scratch:/data"]),
    }


def shop_services() -> dict[str, Any]:
    """The deployment that crashes on h2: two long-running services."""
    return {"web": service("sleep 3600"), "worker": service("sleep 3600")}


def alertmanager_config(receiver: HttpReceiver) -> dict[str, Any]:
    """The shipped Alertmanager example with the receivers aimed at the test receiver."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "alertmanager.example.yml")
                                            .read_text())
    config["route"].update(group_wait="3s", group_interval="2s", repeat_interval="1h")
    for entry in config["receivers"]:
        for hook in entry["webhook_configs"]:
            hook["url"] = f"{receiver.url}/{entry['name']}"
    return config


def prometheus_config(folder: Path, agents: dict[str, AgentProcess],
                      alertmanagers: list[str], read_token: str) -> dict[str, Any]:
    """The shipped scrape example: file_sd targets, the agents' read token, fast intervals."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.example.yml")
                                            .read_text())
    interval = f"{SCRAPE_SECONDS}s"
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [u.removeprefix("http://") for u in alertmanagers]}]}
    ]
    targets = folder / "targets" / "fleet.yml"
    targets.parent.mkdir(parents=True, exist_ok=True)
    targets.write_text(yaml.safe_dump([
        {"targets": [f"127.0.0.1:{agent.port}"], "labels": {"host": name}}
        for name, agent in agents.items()
    ]))
    [job] = config["scrape_configs"]
    job["file_sd_configs"] = [{"files": [str(targets.parent / "*.yml")], "refresh_interval": "5s"}]
    token_file = folder / "stackmedic-read-token"
    token_file.write_text(read_token + "\n")
    token_file.chmod(0o600)
    job["authorization"] = {"type": "Bearer", "credentials_file": str(token_file)}
    return config


def host_agent_config(
    host: FleetHost, folder: Path, alertmanagers: list[str], read_token: str
) -> dict[str, Any]:
    """An agent watching the host's daemon, named after it, alerting every cluster member;
    /metrics needs the fleet's read-only token."""
    config = agent_config(
        folder / "data", host.factory.root, docker_host=host.daemon.host, port=free_port())
    return merge(config, merge(RECOVERY_ON, {
        "api": {"metrics_public": False, "read_token": read_token},
        # long enough for the outage to be scraped before recovery acts
        "recovery": {"settle_seconds": 4},
        "resources": {"sample_interval_seconds": SCRAPE_SECONDS},
        "metrics": {"cadvisor_fs_interval_seconds": FS_INTERVAL_SECONDS},
        "notifications": {
            "host": host.name,
            # both services' deaths in one notice even when the agent is slow to see them
            "group_window_seconds": 3,
            "retry_initial_seconds": 0.2,
            "channels": {"am": {"type": "alertmanager", "urls": alertmanagers}},
        },
    }))


def _start_host(name: str, root: Path, image: str) -> FleetHost:
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load_image(image)
        factory = DeploymentFactory(root=root / name / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir(parents=True)
        site = factory.make("site", site_services(name),
                            top_level={"volumes": {"scratch": {}}} if name == TRAFFIC_HOST else {})
        site.up()
        fleet_host = FleetHost(name, daemon, factory, site)
        if name == "h2":
            shop = factory.make("shop", shop_services())
            shop.up()
            fleet_host.extra["shop"] = shop
        return fleet_host
    except BaseException:
        daemon.teardown()
        raise


@contextlib.contextmanager
def running_fleet(root: Path, image: str) -> Iterator[Fleet]:
    """Start the whole fleet; tear it all down afterwards, whatever failed."""
    PrivateDockerd.sweep_orphans()
    with contextlib.ExitStack() as stack:
        receiver = HttpReceiver().start()
        stack.callback(receiver.stop)
        cluster = AlertmanagerCluster(root / "alertmanager", alertmanager_config(receiver),
                                      peer_timeout=PEER_TIMEOUT)
        stack.callback(cluster.close)
        cluster.start()
        hosts: dict[str, FleetHost] = {}
        with ThreadPoolExecutor(len(HOSTS)) as pool:
            futures = {name: pool.submit(_start_host, name, root, image) for name in HOSTS}
            errors = []
            for name, future in futures.items():
                try:
                    hosts[name] = future.result()
                except Exception as exc:  # keep tearing down the hosts that did start
                    errors.append(exc)
        for fleet_host in hosts.values():
            stack.callback(fleet_host.daemon.teardown)
            stack.callback(fleet_host.factory.cleanup)
        if errors:
            raise errors[0]
        read_token = secrets.token_urlsafe(24)
        for fleet_host in hosts.values():
            folder = root / fleet_host.name
            config = host_agent_config(fleet_host, folder, cluster.urls, read_token)
            agent = AgentProcess(config, folder / "agent")
            stack.callback(agent.close)
            agent.start()
            fleet_host.agent = agent
        agents = {name: h.agent for name, h in hosts.items() if h.agent is not None}
        prometheus = PrometheusServer(root / "prometheus", prometheus_config(
            root / "prometheus", agents, cluster.urls, read_token))
        stack.callback(prometheus.close)
        prometheus.start()
        wait_until(lambda: _all_up(prometheus), 60, interval=0.2,
                   message="Prometheus scraping every agent")
        yield Fleet(hosts, read_token, prometheus, cluster, receiver)


def _all_up(prometheus: PrometheusServer) -> bool:
    targets = prometheus.targets()
    return len(targets) == len(HOSTS) and all(t["health"] == "up" for t in targets)
