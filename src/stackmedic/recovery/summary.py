"""What a restart did to each deployment: the buckets of the one summary, and who goes where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackmedic.health.model import DeploymentHealth, ServiceStatus, Verdict
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.outcome import RunResult
from stackmedic.types import DesiredState, RunOutcome

START_SLACK = 1.0  # engine start times against the agent's clock


@dataclass
class RestartSummary:
    """What a restart did to each deployment, stating only what was verified.

    ``came_back``: running (healthy where it has a healthcheck) before stackmedic acted on
    it, per the engine's start times. ``brought_back``: running after stackmedic's action.
    ``still_down``: everything else, with the reason (an invalid compose file with
    Compose's error) and what comes next. ``completed``: one-shot jobs that ran to
    completion. ``not_found``: deployments stackmedic knew whose compose folder is gone. A
    deployment wanted running in none of these is a bug, and ``unaccounted`` says so.
    ``rearmed``: those whose recovery had given up before the restart (each had one fresh
    attempt). ``cut_short``: earlier restarts whose reconcile this one interrupted.
    ``stopped_again``: services wanted stopped that Docker's restart policy started at boot,
    stopped again by stackmedic.
    """

    kind: RestartKind
    came_back: list[str] = field(default_factory=list)
    brought_back: list[dict[str, Any]] = field(default_factory=list)
    still_down: list[dict[str, str]] = field(default_factory=list)
    completed: list[dict[str, str]] = field(default_factory=list)
    left_stopped: list[str] = field(default_factory=list)
    stopped_again: list[dict[str, str]] = field(default_factory=list)
    networks_created: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)
    not_found: list[dict[str, str]] = field(default_factory=list)
    rearmed: list[str] = field(default_factory=list)
    cut_short: list[dict[str, Any]] = field(default_factory=list)
    uncertain: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def sort(self) -> None:
        """Order every list by deployment name (runs finish in any order)."""
        self.came_back.sort()
        self.brought_back.sort(key=lambda item: item["deployment"])
        self.still_down.sort(key=lambda item: item["deployment"])
        self.completed.sort(key=lambda item: item["deployment"])
        self.not_found.sort(key=lambda item: item["deployment"])

    def account(self, wanted: list[str]) -> None:
        """Name every deployment wanted running that landed in no bucket (a bug)."""
        placed = {*self.came_back, *(b["deployment"] for b in self.brought_back),
                  *(d["deployment"] for d in self.still_down),
                  *(d["deployment"] for d in self.not_found)}
        only_jobs = {c["deployment"] for c in self.completed if c.get("only_jobs")}
        self.unaccounted = sorted(set(wanted) - placed - only_jobs)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "restart": self.kind.value,
            "came_back_by_itself": self.came_back,
            "brought_back": self.brought_back,
            "still_down": self.still_down,
            "jobs_completed": self.completed,
            "left_stopped": self.left_stopped,
            "stopped_again": self.stopped_again,
            "networks_created": self.networks_created,
            "unaccounted": self.unaccounted,
            "not_found": self.not_found,
            "rearmed_after_give_up": self.rearmed,
            "cut_short": self.cut_short,
            "uncertain_intent": self.uncertain,
            "seconds": round(self.seconds, 1),
        }

    def message(self) -> str:
        """A short report a person can read, one line per group."""
        def names(items: list[str]) -> str:
            return ", ".join(items) if items else "none"

        def gave_up(name: str) -> str:
            return "; it had given up before the restart" if name in self.rearmed else ""

        head = f"recovered after {self.kind.value} restart ({self.seconds:.0f}s)"
        if self.cut_short:
            head += " (it came before the reconcile after the " + ", ".join(
                f"{c['restart']} restart at {c['at_text']}" for c in self.cut_short
            ) + " had finished; this summary covers both)"
        lines = [
            head + ":",
            "- came back by itself: " + names(
                [f"{n} ({gave_up(n)[2:]})" if gave_up(n) else n for n in self.came_back]),
            "- brought back by stackmedic: " + names(
                [f"{b['deployment']} ({b['how']}{gave_up(b['deployment'])})"
                 for b in self.brought_back]),
            "- still down: " + names(
                [f"{d['deployment']} ({d['why']}{gave_up(d['deployment'])}; {d['next']})"
                 if d.get("next") else f"{d['deployment']} ({d['why']})"
                 for d in self.still_down]),
        ]
        if self.completed:
            lines.append("- jobs completed: " + names(
                [f"{c['deployment']} ({c['services']})" for c in self.completed]))
        again = {d["deployment"]: d["services"] for d in self.stopped_again}
        # A deployment wanted running may have services left stopped on purpose too.
        kept = sorted({*self.left_stopped, *again})
        lines.append("- left stopped on purpose: " + names(
            [f"{n} ({again[n]} stopped again: Docker's restart policy had started it)"
             if n in again else n for n in kept]))
        if self.not_found:
            lines.append("- no longer found: " + names(
                [f"{d['deployment']} ({d['why']})" for d in self.not_found]))
        if self.networks_created:
            lines.append(f"- networks recreated: {names(self.networks_created)}")
        if self.uncertain:
            lines.append("- stops judged on thin evidence, check them: " + names(
                [f"{u['deployment']} ({u['decided']}; if wrong: {u['fix']})"
                 for u in self.uncertain]))
        if self.unaccounted:
            lines.append("- not accounted for (a bug in stackmedic, please report): "
                         + names(self.unaccounted))
        return "\n".join(lines)


def place(summary: RestartSummary, name: str, health: DeploymentHealth,
          containers: list[ContainerState], result: RunResult | None,
          retry_in: float | None = None) -> None:
    """Put one deployment in the bucket its verified state earns (pure but for ``summary``).

    ``retry_in``: when recovery tries a deployment still down again (None: it will not).
    """
    if health.verdict is Verdict.INVALID:
        summary.still_down.append({
            "deployment": name, "why": health.reason.splitlines()[0],
            "next": "stackmedic acts once the compose file is valid again"})
        return
    completed = [s.name for s in health.services if s.status is ServiceStatus.COMPLETED]
    wanted = [s for s in health.services
              if s.desired != DesiredState.STOPPED.value and s.status is not ServiceStatus.COMPLETED
              and s.status is not ServiceStatus.STOPPED]
    if completed:
        summary.completed.append({"deployment": name, "services": ", ".join(completed),
                                  "only_jobs": "yes" if not wanted else ""})
    if not wanted:
        return
    up = health.verdict is Verdict.HEALTHY and all(
        s.status is ServiceStatus.RUNNING for s in wanted)
    if not up:
        why = (result.message if result is not None and result.message else "") or health.reason
        gave_up = result is not None and result.outcome == RunOutcome.GAVE_UP
        if gave_up:
            why = f"gave up: {why}"
        if gave_up or retry_in is None:
            then = f"needs a person: stackmedic start {name} once it is fixed"
        else:
            then = f"stackmedic tries again in {retry_in:g}s"
        summary.still_down.append({"deployment": name, "why": why.splitlines()[0],
                                   "next": then})
        return
    acted_at = result.acted_at if result is not None else None
    done = [o for o in (result.actions if result is not None else []) if o.ok]
    acted = {o.suggestion.service for o in done}
    started_by_us = acted_at is not None and any(
        c.service in acted and c.running and (c.started_at or 0.0) >= acted_at - START_SLACK
        for c in containers)
    if not started_by_us:
        summary.came_back.append(name)
        return
    how = ", ".join(o.suggestion.describe() for o in done)
    summary.brought_back.append({"deployment": name, "how": how, "acted_at": acted_at})
