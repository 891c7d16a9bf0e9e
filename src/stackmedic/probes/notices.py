"""What probes tell beyond a service's verdict: certificates about to expire, and every
probe of the host failing at once (one problem of the host, not one per deployment)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import NotificationKind
from stackmedic.probes.book import ProbeBook, ProbeRecord
from stackmedic.probes.config import ProbesConfig
from stackmedic.types import SYSTEM_CLOCK, Clock, ProbeFailure, Severity

HOST_FINGERPRINT = "agent-problem:probes-network"
# Failures the host's own network can cause; an HTTP 500 everywhere is the services'.
NETWORK_FAILURES = (ProbeFailure.TIMEOUT, ProbeFailure.REFUSED, ProbeFailure.NETWORK)

Submit = Callable[[NotificationEvent], Awaitable[None]]
Refresh = Callable[[], Awaitable[None]]


def cert_severity(days: float | None, config: ProbesConfig) -> Severity | None:
    """Critical within ``cert_critical_days`` (or expired), a warning within
    ``cert_warning_days``, else nothing to tell."""
    if days is None:
        return None
    if days <= config.cert_critical_days:
        return Severity.CRITICAL
    if days <= config.cert_warning_days:
        return Severity.WARNING
    return None


def host_failure(book: ProbeBook, min_probes: int) -> str | None:
    """Why every probe of the host fails at once, or None when some pass (pure)."""
    last = [r for r in book.records() if r.last is not None and r.skipped is None]
    if len(last) < min_probes or len({r.spec.deployment for r in last}) < 2:
        return None
    if any(r.last is None or r.last.failure not in NETWORK_FAILURES for r in last):
        return None
    reasons = sorted({r.last.reason for r in last if r.last is not None})
    return (f"all {len(last)} probes of {len({r.spec.deployment for r in last})} deployments "
            f"fail at once: {'; '.join(reasons)[:300]}")


class ProbeNotices:
    """Tells certificate expiry and host-wide probe failure through the notifier."""

    def __init__(self, config: ProbesConfig, book: ProbeBook, submit: Submit,
                 refresh_all: Refresh, clock: Clock = SYSTEM_CLOCK) -> None:
        self._config = config
        self._book = book
        self._submit = submit
        self._refresh_all = refresh_all
        self._clock = clock
        self._told: dict[tuple[str, str, str], Severity] = {}

    async def on_result(self, record: ProbeRecord) -> None:
        """After each probe: its certificate, then the host as a whole."""
        await self._certificate(record)
        await self._host()

    async def _certificate(self, record: ProbeRecord) -> None:
        # behaviour: probe-certificate
        last, spec = record.last, record.spec
        if last is None or not spec.tls:
            return
        days = last.cert_days_left(self._clock.wall())
        if days is None:
            return
        severity = cert_severity(days, self._config)
        told = self._told.get(spec.key)
        if severity == told:
            return
        fingerprint = "certificate:" + ":".join(spec.key)
        base = dict(deployment=spec.deployment, service=spec.service or None,
                    fingerprint=fingerprint, occurred_at=datetime.now(UTC))
        if severity is None:
            self._told.pop(spec.key, None)
            await self._submit(NotificationEvent.model_validate(dict(
                base, kind=NotificationKind.CERTIFICATE_RENEWED, severity=Severity.INFO,
                title=f"{spec.deployment}: certificate of {spec.target} renewed",
                summary=f"It is valid for {days:.0f} more days.",
                details={"days_left": round(days, 1)})))
            return
        self._told[spec.key] = severity
        expires = datetime.fromtimestamp(last.cert_expires_at or 0, UTC)
        when = (f"expired {-days:.1f} days ago" if days < 0
                else f"expires in {days:.1f} days")
        await self._submit(NotificationEvent.model_validate(dict(
            base, kind=NotificationKind.CERTIFICATE, severity=severity,
            title=f"{spec.deployment}: TLS certificate of {spec.target} {when}",
            summary=(f"The certificate served by {spec.target} "
                     f"({spec.service or spec.deployment}) {when}, on "
                     f"{expires.isoformat(timespec='seconds')}."),
            details={"reason": when, "days_left": round(days, 1),
                     "expires_at": expires.isoformat(timespec="seconds"),
                     "container": last.container})))

    async def _host(self) -> None:
        # behaviour: probe-host-network
        reason = host_failure(self._book, self._config.host_failure_min_probes)
        if reason == self._book.host_down or (reason and self._book.host_down):
            return
        self._book.host_down = reason
        if reason is None:
            for record in self._book.records():
                record.failures = 0  # counted while the host was down: not the services'
            await self._submit(NotificationEvent(
                kind=NotificationKind.AGENT_PROBLEM_RESOLVED, severity=Severity.INFO,
                title="Probes pass again", summary="The host's probes answer again.",
                fingerprint=HOST_FINGERPRINT))
        else:
            await self._submit(NotificationEvent(
                kind=NotificationKind.AGENT_PROBLEM, severity=Severity.CRITICAL,
                title="Every probe of this host fails: its network may be down",
                summary=(f"{reason}. This is told once for the host, not per deployment; "
                         "stackmedic does not restart services for it."),
                details={"reason": reason}, fingerprint=HOST_FINGERPRINT))
        await self._refresh_all()
