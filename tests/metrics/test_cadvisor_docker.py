"""cAdvisor's core dashboard inputs from a real agent agree with the engine's stats API.

A compose project runs a CPU burner limited by ``cpus: 0.5`` and a memory filler limited
by ``mem_limit``. The figures behind the usual queries (``rate(container_cpu_usage_seconds_
total[..])``, ``container_memory_working_set_bytes``, ``container_spec_memory_limit_bytes``)
must carry the compose labels and agree with the engine's own stats within 5 %.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiodocker
import pytest

from stackmedic.engine.docker_api import json_answer
from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

from .exposition import Exposition

pytestmark = pytest.mark.docker

MEMORY_LIMIT = 96 * 1024 * 1024
FILL = 48 * 1024 * 1024
WINDOW_SECONDS = 10.0
AGENT_FAMILIES = {  # as prometheus_client's parser names them (counters without _total)
    "stackmedic_agent_info": "gauge",
    "stackmedic_deployment_verdict": "gauge",
    "stackmedic_deployment_desired_state": "gauge",
    "stackmedic_open_problems": "gauge",
    "stackmedic_recovery_runs": "counter",
    "stackmedic_recovery_gave_up": "gauge",
    "stackmedic_restart_reconciles": "counter",
    "stackmedic_notification_outbox_pending": "gauge",
    "stackmedic_notification_failures": "counter",
    "stackmedic_agent_heartbeat_timestamp_seconds": "gauge",
    "stackmedic_container_cpu_seconds": "counter",
    "process_cpu_seconds": "counter",
    "container_cpu_usage_seconds": "counter",
    "container_memory_working_set_bytes": "gauge",
}


async def scrape(handle: AgentHandle) -> Exposition:
    response = await handle.api.get("/metrics")
    response.raise_for_status()
    return Exposition(response.text)


async def engine_stats(docker: aiodocker.Docker, container_id: str) -> dict[str, Any]:
    # Not one-shot: the engine then answers with a fresh reading and its exact read time.
    stats: dict[str, Any] = await json_answer(docker, f"containers/{container_id}/stats",
                                              params={"stream": "0"})
    return stats


def read_time(stats: dict[str, Any]) -> float:
    stamp = str(stats["read"])  # RFC 3339 with nanoseconds: keep microseconds for Python
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()


def engine_working_set(stats: dict[str, Any]) -> float:
    """What `docker stats` shows as memory usage: usage minus inactive file pages."""
    memory = stats["memory_stats"]
    inner = memory.get("stats", {})
    inactive = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return float(memory["usage"] - inactive)


@pytest.mark.parametrize("source", ["cgroups", "stats_api"])
async def test_core_queries_carry_compose_labels_and_agree_with_engine_stats(
    deployments: DeploymentFactory, tmp_path: Path, source: str
) -> None:
    """Both ways of sampling (cgroup files, the engine's stats API) feed the same series."""
    fill = f"(dd if=/dev/zero bs=1048576 count={FILL // 1048576} 2>/dev/null; sleep 3600)"
    site = deployments.make(
        "cadv",
        {
            "burner": service("while :; do :; done", cpus=0.5),
            "filler": service(f"{fill} | tail -c {FILL} > /dev/null", mem_limit=MEMORY_LIMIT),
        },
    )
    site.up()
    async with (
        running_agent(
            tmp_path / "data",
            deployments.root,
            notifications={"host": "h-cadv"},
            resources={"sample_interval_seconds": 1, "source": source},
        ) as handle,
        aiodocker.Docker() as docker,
    ):
        project = {"container_label_com_docker_compose_project": site.name}
        burner_labels = {**project, "container_label_com_docker_compose_service": "burner"}
        filler_labels = {**project, "container_label_com_docker_compose_service": "filler"}

        async def both_sampled() -> Exposition | None:
            exp = await scrape(handle)
            seen = exp.samples("container_memory_working_set_bytes", **filler_labels)
            full = seen and seen[0].value >= FILL
            burning = exp.samples("container_cpu_usage_seconds_total", **burner_labels)
            return exp if full and burning else None

        first = await async_wait_until(
            both_sampled, 60, interval=0.5, message="both containers sampled"
        )
        assert first is not None
        burner = first.one("container_cpu_usage_seconds_total", **burner_labels, cpu="total")
        assert first.type_of("container_cpu_usage_seconds") == "counter"
        burner_id = burner.labels["id"].rsplit("/", 1)[-1].removeprefix("docker-")
        burner_id = burner_id.removesuffix(".scope")
        inspect = await docker.containers.get(burner_id)
        assert burner.labels["id"] in (f"/docker/{inspect.id}",
                                       f"/system.slice/docker-{inspect.id}.scope")
        assert burner.labels["name"] == inspect["Name"].lstrip("/")
        assert burner.labels["image"] == inspect["Config"]["Image"]
        assert burner.labels["host"] == "h-cadv"

        # CPU: our counter against the engine's own over the very same window: our series
        # (a value per sample, each with its read time) is interpolated at the engine's
        # read times.
        series = CounterSeries(handle, burner_labels)
        await series.record_until(lambda: series.latest() > 0)
        stats_before = await engine_stats(docker, burner_id)
        t0 = read_time(stats_before)
        await series.record_until(lambda: series.latest() >= t0 + WINDOW_SECONDS)
        stats_after = await engine_stats(docker, burner_id)
        t1 = read_time(stats_after)
        await series.record_until(lambda: series.latest() > t1)
        ours = (series.at(t1) - series.at(t0)) / (t1 - t0)
        engine_ns = (stats_after["cpu_stats"]["cpu_usage"]["total_usage"]
                     - stats_before["cpu_stats"]["cpu_usage"]["total_usage"])
        engine = engine_ns / 1e9 / (t1 - t0)
        second = await scrape(handle)
        print(f"cpu rate: ours {ours:.4f} engine {engine:.4f}")
        assert 0 < engine <= 0.5 * 1.05  # held by its limit (less on a busy machine)
        assert ours == pytest.approx(engine, rel=0.05)
        assert second.value("container_spec_cpu_quota", **burner_labels) == 50_000
        assert second.value("container_spec_cpu_period", **burner_labels) == 100_000
        # Present because a quota is set; how much throttling depends on the machine's load.
        second.one("container_cpu_cfs_throttled_seconds_total", **burner_labels)
        assert second.type_of("container_cpu_cfs_throttled_seconds") == "counter"

        # Memory: working set and limit of the filler against the engine's stats.
        filler = second.one("container_memory_working_set_bytes", **filler_labels)
        filler_id = filler.labels["id"].rsplit("/", 1)[-1].removeprefix("docker-")
        filler_stats = await engine_stats(docker, filler_id.removesuffix(".scope"))
        assert filler.value >= FILL
        print(f"working set: ours {filler.value:.0f} engine {engine_working_set(filler_stats):.0f}")
        assert filler.value == pytest.approx(engine_working_set(filler_stats), rel=0.05)
        limit = second.value("container_spec_memory_limit_bytes", **filler_labels)
        assert limit == MEMORY_LIMIT == filler_stats["memory_stats"]["limit"]
        assert second.value("container_spec_memory_limit_bytes", **burner_labels) == 0
        usage = second.value("container_memory_usage_bytes", **filler_labels)
        assert usage >= filler.value
        assert second.value("container_memory_rss", **filler_labels) >= FILL * 0.9
        assert not second.samples("container_spec_cpu_quota", **filler_labels)
        assert not second.samples("container_cpu_cfs_throttled_seconds_total", **filler_labels)
        via_api = handle.agent.resources.stats()["containers_via_stats_api"]
        assert via_api == (2 if source == "stats_api" else 0)

        # Every family the agent exposes is there, and every series carries the host.
        for family, kind in AGENT_FAMILIES.items():
            assert second.type_of(family) == kind, family
        every = [s for f in second.families.values() for s in f.samples]
        assert all(s.labels.get("host") == "h-cadv" for s in every), [
            s for s in every if s.labels.get("host") != "h-cadv"
        ]
        assert second.value("stackmedic_deployment_desired_state", deployment=site.name,
                            state="running") == 1
        assert second.value("stackmedic_open_problems", deployment=site.name) == 0


class CounterSeries:
    """The CPU counter of one container as successive scrapes show it: (read time, value)."""

    def __init__(self, handle: AgentHandle, labels: dict[str, str]) -> None:
        self.handle, self.labels = handle, labels
        self.points: dict[float, float] = {}

    def latest(self) -> float:
        return max(self.points, default=0.0)

    async def record_until(self, done: Callable[[], bool], timeout: float = 60) -> None:
        async def scraped() -> bool:
            exp = await scrape(self.handle)
            for s in exp.samples("container_cpu_usage_seconds_total", **self.labels):
                if s.timestamp is not None:
                    self.points[float(s.timestamp)] = s.value
            return done()

        await async_wait_until(scraped, timeout, interval=0.3, message="counter samples")

    def at(self, t: float) -> float:
        """The counter at time ``t``, interpolated between the samples around it."""
        times = sorted(self.points)
        before = max(x for x in times if x <= t)
        after = min(x for x in times if x >= t)
        if after == before:
            return self.points[before]
        share = (t - before) / (after - before)
        return self.points[before] + share * (self.points[after] - self.points[before])


async def test_a_crashed_deployment_is_an_open_problem_on_its_host(
    deployments: DeploymentFactory, tmp_path: Path
) -> None:
    """Also: with ``metrics.cadvisor: false`` only stackmedic's own container series remain."""
    site = deployments.make("crash", {"web": service("sleep 6; exit 3", restart="no")})
    site.up()
    async with running_agent(
        tmp_path / "data", deployments.root, notifications={"host": "h2"},
        resources={"sample_interval_seconds": 1}, metrics={"cadvisor": False},
    ) as handle:
        dep = {"deployment": site.name, "host": "h2"}

        async def sampled() -> Exposition | None:
            exp = await scrape(handle)
            return exp if exp.samples("stackmedic_container_memory_bytes", **dep) else None

        running = await async_wait_until(sampled, 30, interval=0.3, message="web sampled")
        assert running is not None
        assert not [name for name in running.families if name.startswith("container_")]

        async def problem_open() -> Exposition | None:
            exp = await scrape(handle)
            found = exp.samples("stackmedic_open_problems", **dep)
            return exp if found and found[0].value == 1 else None

        exp = await async_wait_until(problem_open, 60, interval=0.5, message="open problem")
        assert exp is not None
        assert exp.value("stackmedic_deployment_verdict", **dep, verdict="down") == 1
        assert exp.value("stackmedic_deployment_desired_state", **dep, state="running") == 1
        assert exp.value("stackmedic_recovery_gave_up", **dep) == 0
