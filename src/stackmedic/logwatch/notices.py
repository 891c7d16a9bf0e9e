"""The notices of a log-pattern burst: one when its fingerprint fires, one when it is quiet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stackmedic.logwatch.bursts import Burst
from stackmedic.logwatch.tally import Fingerprint
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import NotificationKind
from stackmedic.types import Severity

DetailValue = str | int | float | None
TITLE_LINE = 120
SHOWN_LINE = 1000
_CONTROL = {c: "?" for c in range(32) if c not in (9,)} | {127: "?"}


def problem_key(deployment: str, fingerprint: str) -> str:
    """The notifier's fingerprint of a log-pattern problem."""
    return f"log-pattern:{deployment}:{fingerprint}"


def printable(text: str, limit: int = SHOWN_LINE) -> str:
    """A log line safe to show: control characters replaced, cut to ``limit``."""
    return text[:limit].translate(_CONTROL)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def firing_event(burst: Burst, item: Fingerprint, matched: int, container: str,
                 triage: dict[str, Any] | None, triage_note: str | None) -> NotificationEvent:
    """The notice of a fingerprint that began firing: its first line, count and times."""
    where = f"{burst.deployment}/{burst.service}"
    line = printable(item.first_line)
    details: dict[str, DetailValue] = {
        "reason": f"rule {burst.rule.name}: {matched} matching line(s)"
                  f" within {burst.rule.window_seconds:g}s",
        "container": container,
        "rule": burst.rule.name,
        "fingerprint": burst.fingerprint,
        "line": line,
        "count": item.count,
        "first seen": _when(item.first_seen),
        "last seen": _when(item.last_seen),
    }
    if triage:
        for key in ("summary", "cause", "next_step", "severity", "confidence"):
            if triage.get(key) is not None:
                details[f"triage {key.replace('_', ' ')}"] = triage[key]
    elif triage_note:
        details["triage"] = triage_note
    return NotificationEvent(
        kind=NotificationKind.LOG_PATTERN, severity=burst.rule.severity,
        deployment=burst.deployment, service=burst.service,
        title=f"{where} logs: {printable(item.first_line, TITLE_LINE) or burst.rule.name}",
        summary=(f"{where} logged {matched} line(s) matching rule {burst.rule.name} "
                 f"(fingerprint {burst.fingerprint}, {item.count} in all)."),
        details=details, fingerprint=problem_key(burst.deployment, burst.fingerprint),
    )


def quiet_event(burst: Burst, item: Fingerprint | None, matched: int) -> NotificationEvent:
    """The notice that a firing fingerprint has been quiet for its rule's quiet window."""
    where = f"{burst.deployment}/{burst.service}"
    details: dict[str, DetailValue] = {
        "rule": burst.rule.name, "fingerprint": burst.fingerprint,
        "lines since told": matched, "count": item.count if item else None,
        "last seen": _when(item.last_seen) if item else None,
    }
    return NotificationEvent(
        kind=NotificationKind.LOG_PATTERN_RESOLVED, severity=Severity.INFO,
        deployment=burst.deployment, service=burst.service,
        title=f"{where} logs quiet: {burst.rule.name}",
        summary=(f"No line of fingerprint {burst.fingerprint} for "
                 f"{burst.rule.quiet_seconds:g}s."),
        details=details, fingerprint=problem_key(burst.deployment, burst.fingerprint),
    )
