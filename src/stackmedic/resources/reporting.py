"""Telling the agent what sampling found: spike alerts and OOM kills, logged and handed on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from stackmedic.resources.models import ContainerSample, SpikeAlert

log = structlog.get_logger(__name__)

AlertCallback = Callable[[SpikeAlert], Awaitable[None]]
OomCallback = Callable[[ContainerSample, list[tuple[float, int]]], Awaitable[None]]
MemoryTrend = Callable[[str], list[tuple[float, int]]]


class ResourceReporter:
    """Logs each spike alert and OOM kill and hands it to the agent's callback.

    A callback that fails is logged; it never stops the sampling that called it.
    """

    def __init__(
        self,
        on_alert: AlertCallback | None,
        on_oom_kill: OomCallback | None,
        memory_trend: MemoryTrend,
    ) -> None:
        self._on_alert = on_alert
        self._on_oom_kill = on_oom_kill
        self._memory_trend = memory_trend

    async def alert(self, alert: SpikeAlert) -> None:
        """A spike alert changed state (pending, firing, resolved)."""
        log.info(
            "resources.alert",
            rule=alert.rule,
            state=alert.state,
            subject=alert.container_name or alert.subject,
            deployment=alert.deployment,
            value=round(alert.value, 2),
            threshold=alert.threshold,
        )
        if self._on_alert is None:
            return
        try:
            await self._on_alert(alert)
        except Exception:
            log.exception("resources.alert_callback_failed", rule=alert.rule)

    async def oom_kill(self, sample: ContainerSample) -> None:
        """The cgroup counter of a running container rose: sent with its memory trend."""
        log.warning(
            "resources.oom_kill",
            container=sample.ref.name,
            deployment=sample.ref.deployment,
            service=sample.ref.service,
            oom_kills=sample.oom_kills,
            memory_limit_bytes=sample.memory_limit_bytes,
        )
        if self._on_oom_kill is None:
            return
        try:
            await self._on_oom_kill(sample, self._memory_trend(sample.ref.container_id))
        except Exception:
            log.exception("resources.oom_callback_failed", container=sample.ref.name)
