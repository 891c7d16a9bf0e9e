"""Hands a fingerprint's firing and quiet to the notifier, with its triage when configured."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from stackmedic.logwatch.bursts import Change
from stackmedic.logwatch.notices import firing_event, problem_key, quiet_event
from stackmedic.logwatch.rules import DEFAULT_RULES
from stackmedic.logwatch.tally import Fingerprint, Tally
from stackmedic.logwatch.watch import LogWatch
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.noise import ProblemState

log = structlog.get_logger(__name__)


class Triager(Protocol):
    """Gives a verdict on a new burst, or None and the reason why not."""

    async def triage(self, item: Fingerprint,
                     recent: list[str]) -> tuple[dict[str, object] | None, str]:
        """The verdict (summary, cause, next_step, severity, confidence) or None, and a note."""
        ...


class LogNotices:
    """Turns burst changes into notices: one per fingerprint firing, one when quiet."""

    def __init__(self, watch: LogWatch, submit: Callable[[NotificationEvent], Awaitable[None]],
                 *, triager: Triager | None = None) -> None:
        self._watch = watch
        self._tally: Tally = watch.tally
        self._submit = submit
        self._triager = triager
        watch.on_change = self.on_change

    def resume(self, problems: list[ProblemState]) -> int:
        """Fingerprints told as firing before the agent restarted fire still (their quiet
        notice is owed); return how many."""
        rules = {r.name: r for r in (*self._watch.config.rules, *DEFAULT_RULES)}
        resumed = 0
        for problem in problems:
            parts = problem.fingerprint.split(":")
            if len(parts) != 3 or problem.deployment is None:
                continue
            item = self._tally.get(parts[1], parts[2])
            rule = rules.get(item.rule) if item is not None else None
            if item is None:
                continue
            if rule is None or problem_key(parts[1], parts[2]) != problem.fingerprint:
                continue
            self._watch.bursts.resume(parts[1], parts[2], rule, item.service, time.monotonic())
            resumed += 1
        return resumed

    async def on_change(self, change: Change, container: str, recent: list[str]) -> None:
        """Tell a firing (after its triage) or a quiet fingerprint."""
        burst = change.burst
        item = self._tally.get(burst.deployment, burst.fingerprint)
        if not change.firing:
            await self._submit(quiet_event(burst, item, change.matched))
            return
        if item is None:
            return
        verdict, note = None, None
        if self._triager is not None:
            try:
                verdict, note = await self._triager.triage(item, recent)
            except Exception as exc:  # a triage fault never holds a notice back
                log.exception("log triage failed")
                note = f"triage failed: {type(exc).__name__}"
            if verdict is not None:
                self._tally.set_triage(burst.deployment, burst.fingerprint, dict(verdict))
        await self._submit(firing_event(burst, item, change.matched, container,
                                        dict(verdict) if verdict else None, note))
