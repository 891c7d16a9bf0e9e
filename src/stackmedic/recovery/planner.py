"""Evidence in, a diagnosis out: the rules, or the optional LLM adviser checked against them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from stackmedic.deployments.catalog import Catalog
from stackmedic.health.engine import HealthEngine
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.rules import Diagnosis, diagnose


class Adviser(Protocol):
    """An optional second opinion (the LLM adviser) on what to do."""

    async def advise(self, evidence: dict[str, Any], *, services: set[str],
                     networks: set[str]) -> Any: ...


class Planner:
    """Gathers the evidence of one deployment and decides what to do about it."""

    def __init__(
        self,
        catalog: Catalog,
        health: HealthEngine,
        collector: EvidenceCollector,
        adviser: Adviser | None,
        *,
        oom_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._catalog = catalog
        self._health = health
        self._collector = collector
        self._adviser = adviser
        self._oom_window = oom_window
        self._clock = clock
        self._oom_seen: dict[tuple[str, str], list[float]] = {}

    async def plan(self, name: str, *, recreated_networks: set[str] | None = None
                   ) -> tuple[Evidence, Diagnosis]:
        """The evidence and the diagnosis of deployment ``name`` (LookupError if unknown)."""
        deployment = self._catalog.get(name)
        if deployment is None:
            raise LookupError(name)
        evidence = await self._collector.collect(deployment, self._health.evaluate(name))
        evidence.recreated_networks = sorted(
            set(recreated_networks or ()) & set(deployment.external_networks))
        self._count_ooms(evidence)
        return evidence, await self._decide(evidence)

    async def _decide(self, evidence: Evidence) -> Diagnosis:
        rules = diagnose(evidence)
        if self._adviser is None or not evidence.compose_valid or not evidence.docker_reachable:
            return rules
        if not evidence.problem_services() and not evidence.missing_networks:
            return rules
        advice = await self._adviser.advise(
            evidence.as_dict(), services=set(evidence.services),
            networks=set(evidence.missing_networks) | set(evidence.external_networks),
        )
        if advice is None or not advice.suggestions:
            return rules
        return Diagnosis(
            summary=advice.diagnosis or rules.summary,
            suggestions=list(advice.suggestions),
            source="llm",
            details=[*rules.details, *(f"dropped: {d}" for d in advice.dropped)],
        )

    def _count_ooms(self, evidence: Evidence) -> None:
        """Remember OOM kills per service, so repeated ones are not restarted in a loop."""
        now = self._clock()
        for service in evidence.services.values():
            key = (evidence.deployment, service.name)
            seen = [t for t in self._oom_seen.get(key, []) if t >= now - self._oom_window]
            if service.oom_killed and service.problem:
                seen.append(now)
            self._oom_seen[key] = seen
            service.oom_kills_recent = len(seen)
