"""Flapping healthchecks: one problem while it flaps, acted on only once ill is sustained."""

from __future__ import annotations

from stackmedic.health.flaps import FlapTracker
from stackmedic.health.model import DeploymentHealth, ServiceHealth, ServiceStatus, Verdict

HOLD = 30.0
SETTLE = 20.0


def health(verdict: Verdict, status: ServiceStatus = ServiceStatus.RUNNING) -> DeploymentHealth:
    return DeploymentHealth("shop", verdict, "", (ServiceHealth("web", status),
                                                  ServiceHealth("db", ServiceStatus.RUNNING)))


UNHEALTHY = health(Verdict.DEGRADED, ServiceStatus.UNHEALTHY)
EXITED = health(Verdict.DEGRADED, ServiceStatus.EXITED)
HEALTHY = health(Verdict.HEALTHY)


def flap(tracker: FlapTracker, spells: int, period: float = 6.0) -> float:
    """Unhealthy then healthy ``spells`` times from 0; return when the last change came."""
    at = 0.0
    for _ in range(spells):
        tracker.observe("shop", UNHEALTHY, at)
        tracker.observe("shop", HEALTHY, at + period)
        at += 2 * period
    return at - period


def test_a_single_unhealthy_spell_is_no_flap_and_is_sustained_after_settle() -> None:
    t = FlapTracker(HOLD)
    t.observe("shop", UNHEALTHY, 0)
    assert t.flap("shop") is None
    assert t.sustained("shop", SETTLE, 5) == SETTLE - 5
    assert t.sustained("shop", SETTLE, SETTLE) == 0
    t.observe("shop", HEALTHY, 40)
    assert t.flap("shop") is None  # unhealthy once, then healthy: not a flap
    assert t.settle_for("shop", Verdict.HEALTHY) == HOLD  # ends once it passed for a while


def test_a_flap_is_counted_named_and_never_sustained_by_its_spells() -> None:
    t = FlapTracker(HOLD)
    last = flap(t, 3)
    found = t.flap("shop")
    assert found is not None and found.changes == 6 and found.seconds == last
    assert found.describe() == "flapping: healthy/unhealthy 6 times in 30 s"
    t.observe("shop", UNHEALTHY, last + 6)
    assert t.sustained("shop", 0.5, last + 12) == HOLD - 6  # not after settle: after HOLD
    assert t.sustained("shop", 0.5, last + 6 + HOLD) == 0  # the flap ended ill


def test_a_flap_ends_when_the_verdict_holds() -> None:
    t = FlapTracker(HOLD)
    last = flap(t, 3)
    t.observe("shop", UNHEALTHY, last + HOLD + 1)  # healthy for longer than HOLD first
    assert t.flap("shop") is None
    assert t.sustained("shop", SETTLE, last + HOLD + 1 + SETTLE) == 0


def test_exits_are_no_healthcheck_flap_and_resolve_at_once() -> None:
    t = FlapTracker(HOLD)
    for start in (0.0, 12.0, 24.0):
        t.observe("shop", EXITED, start)
        t.observe("shop", HEALTHY, start + 6)
    assert t.flap("shop") is None
    assert t.settle_for("shop", Verdict.HEALTHY) == 0
    t.observe("shop", EXITED, 40)
    assert t.sustained("shop", SETTLE, 40 + SETTLE) == 0


def test_not_ill_is_sustained_never() -> None:
    t = FlapTracker(HOLD)
    t.observe("shop", HEALTHY, 0)
    assert t.ill_for("shop", 100) == 0
    assert t.sustained("shop", SETTLE, 100) == SETTLE
