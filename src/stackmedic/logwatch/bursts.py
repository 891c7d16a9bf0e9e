"""When a rule fires for a fingerprint and when it resolves (pure, monotonic time).

A fingerprint *fires* when ``count`` of its lines arrive within ``window_seconds``, unless
it fired less than ``cooldown_seconds`` ago (then the lines are only counted). A firing
fingerprint *resolves* once ``quiet_seconds`` pass without one of its lines.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from stackmedic.logwatch.config import LogRule

Key = tuple[str, str]  # deployment, fingerprint


@dataclass
class Burst:
    """One fingerprint's recent matches and whether it is firing."""

    deployment: str
    fingerprint: str
    rule: LogRule
    service: str
    times: deque[float] = field(default_factory=deque)
    firing: bool = False
    fired_at: float | None = None
    last_match: float = 0.0
    matched: int = 0  # lines since it fired (or since first seen)


@dataclass(frozen=True)
class Change:
    """A burst that began firing, or one that resolved."""

    burst: Burst
    firing: bool
    matched: int


class Bursts:
    """Every fingerprint's burst state; bounded by forgetting quiet, not-firing ones."""

    def __init__(self, max_bursts: int = 10_000) -> None:
        self._bursts: dict[Key, Burst] = {}
        self._max = max_bursts

    def __len__(self) -> int:
        return len(self._bursts)

    def firing(self, deployment: str | None = None) -> list[Burst]:
        """The bursts firing now (of one deployment, or all)."""
        return [b for b in self._bursts.values()
                if b.firing and (deployment is None or b.deployment == deployment)]

    def seen(self, deployment: str, fingerprint: str, rule: LogRule, service: str,
             now: float) -> Change | None:
        """One matching line at ``now``: a ``Change`` when the fingerprint begins firing."""
        key = (deployment, fingerprint)
        burst = self._bursts.get(key)
        if burst is None:
            if len(self._bursts) >= self._max:
                self.forget_quiet(now, everything=True)
            burst = self._bursts[key] = Burst(deployment, fingerprint, rule, service)
        burst.last_match = now
        burst.matched += 1
        if burst.firing:
            return None
        times = burst.times
        times.append(now)
        while times and times[0] <= now - rule.window_seconds:
            times.popleft()
        while len(times) > rule.count:
            times.popleft()
        if len(times) < rule.count:
            return None
        if burst.fired_at is not None and now - burst.fired_at < rule.cooldown_seconds:
            return None
        burst.firing, burst.fired_at = True, now
        times.clear()
        matched, burst.matched = burst.matched, 0
        return Change(burst, True, matched)

    def resume(self, deployment: str, fingerprint: str, rule: LogRule, service: str,
               now: float) -> None:
        """A fingerprint told as firing before the agent restarted is firing still."""
        burst = Burst(deployment, fingerprint, rule, service, firing=True, fired_at=now,
                      last_match=now)
        self._bursts[(deployment, fingerprint)] = burst

    def due(self, now: float) -> list[Change]:
        """The firing bursts quiet for their rule's ``quiet_seconds``: they resolve."""
        changes = []
        for burst in self._bursts.values():
            if burst.firing and now - burst.last_match >= burst.rule.quiet_seconds:
                burst.firing = False
                changes.append(Change(burst, False, burst.matched))
                burst.matched = 0
        self.forget_quiet(now)
        return changes

    def forget_quiet(self, now: float, *, everything: bool = False) -> None:
        """Drop bursts that neither fire nor could matter (their window and cooldown past)."""
        for key, burst in list(self._bursts.items()):
            rule = burst.rule
            keep_for = max(rule.window_seconds, rule.cooldown_seconds if burst.fired_at else 0)
            if not burst.firing and (everything or now - burst.last_match > keep_for):
                del self._bursts[key]
