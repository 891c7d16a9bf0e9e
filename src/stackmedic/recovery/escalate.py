"""Learning from a repeated failure: the same actions failing again change the diagnosis."""

from __future__ import annotations

from typing import Any

from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.suggestions import ServiceAction, Suggestion
from stackmedic.types import RunOutcome

MILD = (ServiceAction.START, ServiceAction.RESTART)
TAIL_LINES_SHOWN = 5
RELAPSE_SECONDS = 300.0


def _signature(actions: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(a.get("service")), str(a.get("action"))) for a in actions}


def escalate(diagnosis: Diagnosis, previous: dict[str, Any] | None,
             now: float | None = None, *, daemon_started: float | None = None) -> None:
    """Change ``diagnosis`` when the previous run tried the same and failed (in place).

    A start or restart that failed goes one step further, to a recreate; anything else
    that failed twice the same way needs a person, told with the last log lines. A run
    that recovered the deployment only for it to fall ill again within ``RELAPSE_SECONDS``
    counts as failed. A run that ended before the Docker daemon last started (a host
    reboot or daemon restart since) is not compared: the shutdown stopped what it
    brought back, and a restart gives a deployment a fresh start.
    """
    if previous is None or not diagnosis.suggestions:
        return
    if before_restart(previous, daemon_started):
        return
    outcome = previous.get("outcome")
    finished = previous.get("finished_at")
    ago = now - float(finished) if now is not None and finished is not None else None
    relapsed = outcome == RunOutcome.RECOVERED and ago is not None and ago < RELAPSE_SECONDS
    if outcome != RunOutcome.FAILED and not relapsed:
        return
    if relapsed:
        previous = {**previous, "error": f"it failed again {ago:.0f}s after it was recovered"}
    planned = {(s.service, s.action.value) for s in diagnosis.suggestions}
    # Dependents that followed last time are not part of what is compared.
    tried = {t for t in _signature(previous.get("actions") or [])
             if t[0] in {s for s, _ in planned}}
    recreated_before = {(s, ServiceAction.RECREATE.value) for s, _ in planned} == tried and all(
        s.action in (*MILD, ServiceAction.RECREATE) for s in diagnosis.suggestions)
    if tried != planned and not recreated_before:
        return
    why = previous.get("error") or "it did not recover"
    if tried == planned and all(s.action in MILD for s in diagnosis.suggestions):
        diagnosis.suggestions = [
            Suggestion(service=s.service, action=ServiceAction.RECREATE,
                       title=f"recreate {s.service}",
                       reason=f"{s.describe()} failed last time ({why}); a fresh container")
            for s in diagnosis.suggestions]
        diagnosis.summary += f"; {', '.join(sorted(a for _, a in tried))} failed last time " \
            f"the same way ({why}): recreating instead"
        return
    done = ", ".join(f"{a} {s}" for s, a in sorted(tried))
    diagnosis.needs_human = f"{done} failed twice the same way: {why}" + log_lines(diagnosis)
    diagnosis.summary = diagnosis.needs_human
    diagnosis.suggestions = []


# behaviour: reboot-twice-no-relapse, daemon-restart-after-reboot
def before_restart(run: dict[str, Any], daemon_started: float | None) -> bool:
    """Whether ``run`` ended (or began, when it never ended) before the daemon's start."""
    if daemon_started is None:
        return False
    ended = run.get("finished_at") or run.get("started_at")
    return ended is not None and float(ended) < daemon_started


def log_lines(diagnosis: Diagnosis) -> str:
    """The last log lines of the failing services, as text to append to a reason."""
    parts = []
    for service, lines in sorted(diagnosis.log_tail.items()):
        shown = [line for line in lines if line.strip()][-TAIL_LINES_SHOWN:]
        if shown:
            parts.append(f"\nlast log lines of {service}:\n" +
                         "\n".join(f"  {line}" for line in shown))
    return "".join(parts)
