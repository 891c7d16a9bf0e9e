"""The reboot benchmark's agent: shipped defaults, and what its API says about a reboot."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackmedic.config.model import Settings
from support.agent import AgentProcess
from support.wait import pause, wait_until

SUMMARY_TIMEOUT = 900.0


def shipped_config(data_dir: Path, deployments: Path, docker_host: str, boot_id: Path
                   ) -> dict[str, Any]:
    """Only what a harness must set; every timing and recovery setting is the default."""
    return {
        "data_dir": str(data_dir),
        "deployments_path": str(deployments),
        "docker": {"host": docker_host},
        "boot_id_path": str(boot_id),
    }


def describe_defaults(config: dict[str, Any]) -> str:
    """The settings that decide the reboot figures, as the agent will read them."""
    settings = Settings.model_validate(config)
    r, i, h = settings.recovery, settings.intent, settings.health
    return (f"recovery enabled={r.enabled} settle_seconds={r.settle_seconds:g} "
            f"boot_parallelism={r.boot_parallelism} verify_stable_seconds="
            f"{r.verify_stable_seconds:g} verify_timeout_seconds={r.verify_timeout_seconds:g}; "
            f"intent start_settle_seconds={i.start_settle_seconds:g} stop_settle_seconds="
            f"{i.stop_settle_seconds:g}; health start_grace_seconds={h.start_grace_seconds:g} "
            f"sweep_interval_seconds={h.sweep_interval_seconds:g}; rescan_interval_seconds="
            f"{settings.rescan_interval_seconds:g}")


def events(agent: AgentProcess, kind: str, since: float) -> list[dict[str, Any]]:
    """Events of `kind` recorded at or after `since` (unix time), oldest first."""
    response = agent.api("GET", f"/api/events?kind={kind}&since={since}&limit=1000")
    response.raise_for_status()
    return list(reversed(response.json()["items"]))


def timeline(agent: AgentProcess, since: float) -> list[str]:
    """The agent's event log since `since`, one line per event, oldest first."""
    response = agent.api("GET", f"/api/events?since={since}&limit=1000")
    response.raise_for_status()
    return [f"+{float(e['ts']) - since:6.1f} {e['kind']:<20} {e['deployment'] or '':<28} "
            f"{str(e['message']).splitlines()[0][:90]}"
            for e in reversed(response.json()["items"])]


def runs_since(agent: AgentProcess, since: float) -> list[dict[str, Any]]:
    """Recovery runs started at or after `since`, oldest first."""
    response = agent.api("GET", "/api/recoveries?limit=500")
    response.raise_for_status()
    return sorted((r for r in response.json()["items"] if r["started_at"] >= since),
                  key=lambda r: float(r["started_at"]))


def open_runs(agent: AgentProcess) -> int:
    """Recovery runs not finished yet."""
    response = agent.api("GET", "/api/recoveries?limit=500")
    response.raise_for_status()
    return sum(1 for r in response.json()["items"] if r["outcome"] == "running")


def desired_states(agent: AgentProcess) -> dict[str, str | None]:
    """Each deployment's desired state as the API lists it."""
    response = agent.api("GET", "/api/deployments")
    response.raise_for_status()
    return {row["name"]: (row["desired"] or {}).get("state")
            for row in response.json()["items"]}


def act(agent: AgentProcess, name: str, action: str) -> None:
    """A person's action through the API (`stop` records the intent to keep it stopped)."""
    response = agent.api("POST", f"/api/deployments/{name}/{action}")
    response.raise_for_status()


def settle(agent: AgentProcess, since: float) -> None:
    """After an agent start: wait for its first restart verdict and, when that starts a
    reconcile, for its summary."""
    detected = wait_until(lambda: events(agent, "restart-detected", since), 120,
                          interval=0.5, message="restart verdict after the agent started")[0]
    if (detected.get("data") or {}).get("restart") in ("host", "daemon"):
        wait_until(lambda: events(agent, "restart-summary", since), SUMMARY_TIMEOUT,
                   interval=0.5, message="restart summary")
    wait_until(lambda: open_runs(agent) == 0, SUMMARY_TIMEOUT, interval=0.5,
               message="no recovery run open")


@dataclass
class AgentFigures:
    """What the agent's own API says about one reboot, in seconds after the daemon answered."""

    api: float
    detected: float | None = None
    restart_kind: str = ""
    first_run: float | None = None
    last_run_end: float | None = None
    runs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    run_median: float | None = None
    run_max: float | None = None
    summaries: list[float] = field(default_factory=list)
    summary_text: str = ""


def read_figures(agent: AgentProcess, wall0: float, api: float, hold: float) -> AgentFigures:
    """Wait for the restart summary and every run to end, then read the figures."""
    wait_until(lambda: events(agent, "restart-summary", wall0), SUMMARY_TIMEOUT, interval=0.5,
               message="restart summary")
    wait_until(lambda: open_runs(agent) == 0, SUMMARY_TIMEOUT, interval=0.5,
               message="no recovery run open")
    pause(hold)  # a second summary, were the agent to write one, arrives before counting
    figures = AgentFigures(api=api)
    detected = events(agent, "restart-detected", wall0)
    if detected:
        figures.detected = float(detected[0]["ts"]) - wall0
        figures.restart_kind = str((detected[0].get("data") or {}).get("restart", ""))
    runs = runs_since(agent, wall0)
    figures.runs = len(runs)
    for run in runs:
        figures.outcomes[run["outcome"]] = figures.outcomes.get(run["outcome"], 0) + 1
    if runs:
        figures.first_run = float(runs[0]["started_at"]) - wall0
        ends = [float(r["finished_at"]) for r in runs if r["finished_at"]]
        figures.last_run_end = max(ends) - wall0 if ends else None
        spans = [float(r["finished_at"]) - float(r["started_at"]) for r in runs
                 if r["finished_at"]]
        figures.run_median = statistics.median(spans) if spans else None
        figures.run_max = max(spans, default=None)
    summaries = events(agent, "restart-summary", wall0)
    figures.summaries = [float(s["ts"]) - wall0 for s in summaries]
    if summaries:
        figures.summary_text = str(summaries[0]["message"])
    return figures
