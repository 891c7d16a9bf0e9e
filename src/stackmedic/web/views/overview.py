"""The overview: every deployment's verdict and usage, the host, and what needs a person."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackmedic.views import deployment_row
from stackmedic.web.formatting import ago, percent, size, verdict_tone, when

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView


@dataclass
class Usage:
    """CPU and memory of one deployment's sampled containers, summed."""

    cpu: float | None = None  # percent of one core
    memory: int = 0
    containers: int = 0


def usage_by_deployment(current: dict[str, Any]) -> dict[str, Usage]:
    """Sum the latest container samples per deployment."""
    found: dict[str, Usage] = {}
    for sample in current.get("containers") or []:
        usage = found.setdefault(sample.get("deployment") or "", Usage())
        cpu = sample.get("cpu_core_percent")
        if cpu is not None:
            usage.cpu = (usage.cpu or 0.0) + float(cpu)
        usage.memory += int(sample.get("memory_bytes") or 0)
        usage.containers += 1
    return found


def overview(agent: AgentView) -> dict[str, Any]:
    """Everything the overview page and its live updates show."""
    current = agent.resources.current()
    usage = usage_by_deployment(current)
    recovery = {name: agent.recovery.state(name) for name in agent.catalog.deployments}
    rows = [
        deployment_summary(deployment_row(agent, d), usage.get(d.name), recovery[d.name])
        for d in sorted(agent.catalog.deployments.values(), key=lambda d: d.name)
    ]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    return {
        "rows": rows,
        "counts": counts,
        "host_usage": host_view(current.get("host")),
        "sampled_at": current.get("ts"),
        "banners": banners(agent, recovery),
        "generated_at": time.time(),
    }


def deployment_summary(
    row: dict[str, Any], usage: Usage | None, recovery: Mapping[str, object]
) -> dict[str, Any]:
    """One overview row: verdict, states, reason, last change and usage, ready to show."""
    health = row.get("health") or {}
    verdict = str(health.get("verdict") or "unknown")
    desired = row.get("desired") or {}
    since = health.get("since")
    return {
        "name": row["name"],
        "verdict": verdict,
        "tone": verdict_tone(verdict),
        "reason": str(health.get("reason") or row.get("error") or ""),
        "desired": desired.get("state") or "not recorded",
        "desired_source": desired.get("source") or "",
        "desired_at": desired.get("changed_at"),
        "observed": row["state"],
        "containers": row["containers"],
        "since": since,
        "since_text": ago(since),
        "since_title": when(since),
        "cpu": None if usage is None else usage.cpu,
        "cpu_text": percent(usage.cpu if usage else None),
        "memory": None if usage is None else usage.memory,
        "memory_text": size(usage.memory) if usage and usage.containers else "—",
        "recovery": str(recovery.get("phase", "idle")),
        "attention": str((row.get("attention") or {}).get("message") or ""),
    }


# What each watched filesystem is for, as a person would say it.
DISK_NAMES = {"data": "holding the agent's data", "docker": "holding Docker's images and volumes"}


def host_view(host: dict[str, Any] | None) -> dict[str, Any] | None:
    """Host CPU, memory and disks with display texts, or None before the first sample."""
    if not host:
        return None
    return {
        "cpu": host.get("cpu_percent"),
        "cpu_text": percent(host.get("cpu_percent")),
        "cpus": host.get("cpu_count"),
        "load": f"{host.get('load1', 0):.2f} / {host.get('load5', 0):.2f} / "
                f"{host.get('load15', 0):.2f}",
        "memory": host.get("memory_percent"),
        "memory_text": f"{percent(host.get('memory_percent'))} "
                       f"({size(host.get('memory_used_bytes'))} of "
                       f"{size(host.get('memory_total_bytes'))})",
        "disks": [
            {
                "label": d["label"],
                "name": DISK_NAMES.get(d["label"], d["label"]),
                "path": os.path.abspath(d["path"]),
                "percent": d["percent"],
                "text": f"{percent(d['percent'])} ({size(d['used_bytes'])} of "
                        f"{size(d['total_bytes'])})",
            }
            for d in host.get("disks") or []
        ],
    }


def banners(
    agent: AgentView, recovery: Mapping[str, Mapping[str, object]]
) -> list[dict[str, str]]:
    """Problems that concern the whole agent or need a person, most serious first."""
    found: list[dict[str, str]] = []
    status = agent.engine.status
    if not status.reachable and status.since:
        found.append({
            "tone": "bad",
            "text": f"Docker is unreachable since {when(status.since)}"
                    + (f": {status.error}" if status.error else "")
                    + ". States shown may be out of date.",
            "link": "",
        })
    elif status.reachable and not agent.stream.connected.is_set():
        found.append({"tone": "warn", "link": "",
                      "text": "Reconnecting to Docker's event stream; states may lag."})
    if agent.compose_error:
        found.append({"tone": "warn", "link": "",
                      "text": f"Docker Compose is unavailable: {agent.compose_error}"})
    for name, state in sorted(recovery.items()):
        if state.get("phase") == "gave-up":
            found.append({
                "tone": "bad",
                "text": f"Recovery of {name} gave up: {state.get('gave_up_reason') or 'no reason'}"
                        ". It needs a person; starting it again re-arms recovery.",
                "link": f"/deployments/{name}",
            })
    return found
