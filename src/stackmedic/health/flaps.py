"""Flapping healthchecks: a deployment whose healthcheck keeps turning unhealthy and back (pure).

A healthcheck that fails for a few seconds and passes again, over and over, is one problem,
not one per unhealthy spell. A *flap* is a run of changes between ill and fine verdicts
whose ill side is a failing healthcheck alone (every other service fine) and in which each
change comes less than ``hold`` seconds after the one before. It ends when the verdict
holds for ``hold`` seconds: fine (the problem is over: one resolved notice) or ill (the
problem is sustained: recovery may act). behaviour: flap-healthcheck, flap-then-sustained

Two facts come out of it, both carried by each ``HealthTransition``:

- ``settle_for``: how long a fine verdict must hold before the deployment's episode may
  end (``hold`` after a healthcheck's ill spell, 0 otherwise);
- ``flap``: the changes so far, to name in notices ("healthy/unhealthy 5 times in 48 s").

Exits and restarts are not counted here: a container that keeps dying is a crash loop
(``crashloop.py``). Times are on the monotonic clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackmedic.health.model import DeploymentHealth, ServiceStatus, Verdict

FLAP_CHANGES = 3  # unhealthy, healthy, unhealthy again: the second spell makes a flap


@dataclass(frozen=True)
class Flap:
    """A healthcheck's changes between healthy and unhealthy so far."""

    changes: int
    seconds: float

    def describe(self) -> str:
        """``flapping: healthy/unhealthy 5 times in 48 s``."""
        return f"flapping: healthy/unhealthy {self.changes} times in {self.seconds:.0f} s"


@dataclass
class _Spells:
    """One deployment's current ill spell and the flap it belongs to."""

    ill_since: float | None = None
    healthcheck: bool = False  # the current (or last) ill spell was a failing healthcheck
    changes: list[float] = field(default_factory=list)


def healthcheck_only(health: DeploymentHealth) -> bool:
    """Whether an ill verdict is a failing healthcheck alone, every other service fine."""
    problems = [s for s in health.services if s.problem]
    return bool(problems) and all(s.status is ServiceStatus.UNHEALTHY for s in problems)


class FlapTracker:
    """Ill spells and flaps per deployment."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self._by_name: dict[str, _Spells] = {}

    def observe(self, name: str, health: DeploymentHealth, now: float) -> None:
        """Account for the deployment's verdict at ``now``."""
        spells = self._by_name.setdefault(name, _Spells())
        if spells.changes and now - spells.changes[-1] >= self.hold:
            spells.changes.clear()  # the verdict held: the flap, if any, is over
        verdict = health.verdict
        if verdict.ill:
            healthcheck = healthcheck_only(health)
            if spells.ill_since is None:
                spells.ill_since = now
                if healthcheck and (spells.healthcheck or not spells.changes):
                    spells.changes.append(now)
                else:
                    spells.changes.clear()
            elif not healthcheck:
                spells.changes.clear()  # no longer a healthcheck's problem alone
            spells.healthcheck = healthcheck
        elif verdict.fine and spells.ill_since is not None:
            spells.ill_since = None
            if spells.healthcheck and spells.changes:
                spells.changes.append(now)

    def settle_for(self, name: str, verdict: Verdict) -> float:
        """How long ``verdict`` (fine) must hold before an ill episode may end."""
        spells = self._by_name.get(name)
        if not verdict.fine or spells is None or not spells.healthcheck:
            return 0.0
        return self.hold

    def flap(self, name: str) -> Flap | None:
        """The deployment's flap so far: unhealthy, healthy and unhealthy again at least."""
        spells = self._by_name.get(name)
        if spells is None or len(spells.changes) < FLAP_CHANGES:
            return None
        return Flap(len(spells.changes), spells.changes[-1] - spells.changes[0])

    def ill_for(self, name: str, now: float) -> float:
        """How long the deployment has been ill without a break (0 when it is not)."""
        spells = self._by_name.get(name)
        if spells is None or spells.ill_since is None:
            return 0.0
        return now - spells.ill_since

    def sustained(self, name: str, settle: float, now: float) -> float:
        """Seconds until its ill-health counts as sustained (0: it does now).

        Ill without a break for ``settle`` seconds; in a flap, for ``hold`` seconds (the
        flap ended ill) since each unhealthy spell of a flap is shorter than that.
        """
        spells = self._by_name.get(name)
        if spells is None or spells.ill_since is None:
            return settle
        flapping = len(spells.changes) >= FLAP_CHANGES
        needed = max(settle, self.hold) if flapping else settle
        return max(0.0, needed - (now - spells.ill_since))

    def forget(self, name: str) -> None:
        """The deployment is gone."""
        self._by_name.pop(name, None)
