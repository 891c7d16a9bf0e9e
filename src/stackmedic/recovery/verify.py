"""After acting: re-observe until the deployment is healthy and stays so, or fail fast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence

from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import DeploymentHealth, Verdict
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.executor import ActionOutcome

POLL_SECONDS = 0.25
LIFETIME_MARGIN = 2.0

Containers = Callable[[], Sequence[ContainerState]]


def died_again(containers: Sequence[ContainerState], services: Collection[str],
               since: float) -> ContainerState | None:
    """A container of ``services`` that exited by itself after ``since`` (pure).

    Exits a stop caused (a restart's own stop, a person's stop) do not count.
    """
    for container in containers:
        if container.service not in services or container.finished_at is None:
            continue
        if container.finished_at >= since and container.exit_cause != "stop":
            return container
    return None


def stable_period(containers: Sequence[ContainerState], services: Collection[str],
                  configured: float, timeout: float) -> float:
    """How long to watch before calling it recovered: longer than the acted-on services
    lived before they last died by themselves (a crash 3 s after each start is no
    recovery after 2 s), within half the verification timeout."""
    lived = [
        c.finished_at - c.started_at for c in containers
        if c.service in services and c.exit_cause != "stop"
        and c.finished_at is not None and c.started_at is not None
        and c.finished_at >= c.started_at
    ]
    if not lived:
        return configured
    return max(configured, min(max(lived) + LIFETIME_MARGIN, timeout / 2))


async def verify_recovered(
    health: HealthEngine, name: str, outcomes: list[ActionOutcome], *,
    timeout: float, stable: float,
    containers: Containers | None = None, since: float | None = None,
) -> tuple[bool, str]:
    """True once ``name`` is healthy for ``stable`` seconds within ``timeout``; else why not.

    With ``containers`` and ``since`` (when the actions ended) it fails as soon as a
    container of an acted-on service exits again, instead of waiting for the timeout.
    """
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        return False, f"{failed.suggestion.describe()} failed: {failed.error}"
    services = {o.suggestion.service for o in outcomes}
    deadline = time.monotonic() + timeout
    stable_since: float | None = None
    last: DeploymentHealth | None = None
    while time.monotonic() < deadline:
        if containers is not None and since is not None:
            dead = died_again(containers(), services, since)
            if dead is not None:
                verdict = health.evaluate(name)
                looped = verdict.service(dead.service) if verdict is not None else None
                return False, _died_again_reason(dead, looped.exit_codes if looped else ())
        last = health.evaluate(name)
        # paused: what it acted on is healthy, and a person paused some other service
        if last is not None and last.verdict in (Verdict.HEALTHY, Verdict.PAUSED):
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= stable:
                return True, ""
        else:
            stable_since = None
        await asyncio.sleep(POLL_SECONDS)
    reason = last.reason if last is not None else "no verdict"
    return False, f"not healthy within {timeout:g}s: {reason}"


def _died_again_reason(dead: ContainerState, codes: Sequence[int] = ()) -> str:
    if dead.running or dead.status == "restarting":
        shown = f" (exit codes {', '.join(str(c) for c in codes)})" if codes else ""
        return f"{dead.service} died again{shown}; its restart policy started it once more"
    started, finished = dead.started_at, dead.finished_at
    lived = f" {max(finished - started, 0.0):.0f}s after it started" \
        if started is not None and finished is not None and finished >= started else ""
    if dead.oom_killed:
        return f"{dead.service} was OOM-killed again{lived}"
    return f"{dead.service} exited again with code {dead.exit_code}{lived}"
