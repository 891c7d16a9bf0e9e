"""Network series as cAdvisor gives them, from a real agent on the machine's engine.

A client fetches from a web server all the time; a sidecar joins the web server's network
namespace (``network_mode: service:web``) and another container runs on the host network.
As in cAdvisor: the client's counters are its own namespace's (``eth0``, loopback left out),
the sidecar has no network series (its namespace is another container's), and the
host-network container reports the host's interfaces, the same counters as ``id="/"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiodocker
import pytest

from stackmedic.metrics.cadvisor_extra import CadvisorExtras, ContainerExtras
from stackmedic.metrics.config import MetricsConfig
from stackmedic.resources import ContainerRef, Snapshot
from stackmedic.resources.cgroups import CgroupLayout
from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

from .exposition import Exposition
from .test_cadvisor import detail
from .test_cadvisor import sample as base_sample
from .test_cadvisor_docker import scrape

pytestmark = pytest.mark.docker

SERVICE = "container_label_com_docker_compose_service"
RX = "container_network_receive_bytes_total"


@pytest.mark.parametrize("source", ["cgroups", "stats_api"])
async def test_network_series_follow_the_namespace_a_container_is_in(
    deployments: DeploymentFactory, tmp_path: Path, source: str
) -> None:
    site = deployments.make("net", {
        "web": service("head -c 100000 /dev/zero > /tmp/blob && exec httpd -f -p 8080 -h /tmp"),
        "client": service("while :; do wget -q -O /dev/null http://web:8080/blob; sleep 0.2;"
                          " done", depends_on=["web"]),
        "sidecar": service("sleep 3600", network_mode="service:web", depends_on=["web"]),
        "hostnet": service("sleep 3600", network_mode="host"),
    })
    site.up()
    async with running_agent(
        tmp_path / "data", deployments.root, notifications={"host": "h-net"},
        resources={"sample_interval_seconds": 1, "source": source},
    ) as handle:
        async def traffic_counted() -> Exposition | None:
            exp = await scrape(handle)
            seen = exp.samples(RX, **{SERVICE: "client"})
            if not seen or seen[0].value < 1_000_000:
                return None
            sampled = exp.samples("container_cpu_usage_seconds_total", **{SERVICE: "sidecar"})
            served = exp.samples("container_network_transmit_bytes_total", **{SERVICE: "web"})
            return exp if sampled and served and exp.samples(RX, **{SERVICE: "hostnet"}) else None

        exp = await async_wait_until(traffic_counted, 60, interval=0.5,
                                     message="the client's traffic counted")
        assert exp is not None
        [client] = exp.samples(RX, **{SERVICE: "client"})
        assert client.labels["interface"] == "eth0"
        assert exp.type_of("container_network_receive_bytes") == "counter"
        assert not [s for f in exp.families.values() for s in f.samples
                    if s.name.startswith("container_network_")
                    and s.labels.get(SERVICE) == "sidecar"]
        host_side = {s.labels["interface"]: s.value for s in exp.samples(RX, id="/")}
        hostnet = {s.labels["interface"]: s.value for s in exp.samples(RX, **{SERVICE: "hostnet"})}
        assert "lo" not in hostnet and "eth0" in hostnet
        assert hostnet["eth0"] == pytest.approx(host_side["eth0"], rel=1e-3)


@dataclass
class NoCgroups:
    """A resource monitor whose cgroup layout is unknown (the agent reads no cgroup files)."""

    layout: CgroupLayout | None = None

    async def next_snapshot(self, timeout: float | None = None) -> Snapshot:
        raise NotImplementedError


async def test_without_the_process_in_sight_the_engine_tells_network_and_cpu(
    deployments: DeploymentFactory, tmp_path: Path
) -> None:
    """An agent that cannot see the container's processes (another pid namespace: here an
    empty /proc) takes network, CPU user/system and the rest from the engine's stats API;
    the writable layer and volumes are walked all the same."""
    site = deployments.make("eng", {
        "web": service("head -c 100000 /dev/zero > /tmp/blob && exec httpd -f -p 8080 -h /tmp"),
        "client": service("head -c 300000 /dev/zero > /layer.bin; while :; do"
                          " wget -q -O /dev/null http://web:8080/blob; sleep 0.2; done",
                          depends_on=["web"]),
    })
    site.up()
    [name] = [row["Name"] for row in site.ps() if row["Service"] == "client"]
    async with aiodocker.Docker() as docker:
        cid = (await docker.containers.get(name)).id

        async def inspect(container_id: str) -> dict[str, Any] | None:
            data: dict[str, Any] = (await docker.containers.get(container_id))._container
            return data

        extras = CadvisorExtras(
            NoCgroups(), MetricsConfig(cadvisor_fs_interval_seconds=1), inspect=inspect,
            docker=lambda: docker, proc=str(tmp_path))
        ref = ContainerRef(cid, site.name, "client", "client")
        sample = replace(base_sample("x", detail()), ref=ref, source="stats_api")

        async def read() -> ContainerExtras | None:
            await extras.refresh(Snapshot(time.time(), None, (sample,)))
            found = extras.container(cid)
            ok = found and found.network and found.network[0].rx_bytes > 500_000
            return found if ok and extras.filesystems(cid) else None

        found = await async_wait_until(read, 60, interval=1, message="the engine's figures")
        assert found is not None and found.network is not None and found.counters is not None
        assert [i.name for i in found.network] == ["eth0"]
        assert found.counters.cpu_user_seconds is not None
        [fs] = extras.filesystems(cid)
        assert fs.usage_bytes >= 300_000 and fs.limit_bytes > fs.usage_bytes
