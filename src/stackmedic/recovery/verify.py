"""After acting: re-observe until the deployment is healthy and stays so, or give up waiting."""

from __future__ import annotations

import asyncio
import time

from stackmedic.health.engine import HealthEngine
from stackmedic.health.model import DeploymentHealth, Verdict
from stackmedic.recovery.executor import ActionOutcome

POLL_SECONDS = 0.25


async def verify_recovered(
    health: HealthEngine, name: str, outcomes: list[ActionOutcome], *,
    timeout: float, stable: float,
) -> tuple[bool, str]:
    """True once ``name`` is healthy for ``stable`` seconds within ``timeout``; else why not."""
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        return False, f"{failed.suggestion.describe()} failed: {failed.error}"
    deadline = time.monotonic() + timeout
    stable_since: float | None = None
    last: DeploymentHealth | None = None
    while time.monotonic() < deadline:
        last = health.evaluate(name)
        if last is not None and last.verdict is Verdict.HEALTHY:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= stable:
                return True, ""
        else:
            stable_since = None
        await asyncio.sleep(POLL_SECONDS)
    reason = last.reason if last is not None else "no verdict"
    return False, f"not healthy within {timeout:g}s: {reason}"
