"""Evidence in, a diagnosis out: the rules, or the optional LLM adviser checked against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from stackmedic.deployments.catalog import Catalog
from stackmedic.health.engine import HealthEngine
from stackmedic.recovery.dependents import with_dependents
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.evidence_gather import EvidenceCollector
from stackmedic.recovery.rules import Diagnosis, diagnose
from stackmedic.types import SYSTEM_CLOCK, Clock

OomKills = Callable[[str, str], int]


class Adviser(Protocol):
    """An optional second opinion (the LLM adviser) on what to do."""

    async def consult(self, evidence: dict[str, Any], *, services: set[str],
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
        oom_kills: OomKills | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._catalog = catalog
        self._health = health
        self._collector = collector
        self._adviser = adviser
        self._oom_window = oom_window
        self._oom_kills = oom_kills
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
        diagnosis = await self._decide(evidence)
        planned = {s.service for s in diagnosis.suggestions}
        diagnosis.suggestions = with_dependents(diagnosis.suggestions, evidence)
        diagnosis.followers = [s.service for s in diagnosis.suggestions
                               if s.service not in planned]
        diagnosis.log_tail = {s.name: s.log_tail for s in evidence.problem_services()
                              if s.log_tail}
        return evidence, diagnosis

    async def _decide(self, evidence: Evidence) -> Diagnosis:
        rules = diagnose(evidence)
        if self._adviser is None or not evidence.compose_valid or not evidence.docker_reachable:
            return rules
        if not evidence.problem_services() and not evidence.missing_networks:
            return rules
        consultation = await self._adviser.consult(
            evidence.as_dict(), services=set(evidence.services),
            networks=set(evidence.missing_networks) | set(evidence.external_networks),
        )
        return judge_advice(consultation, rules)

    def _count_ooms(self, evidence: Evidence) -> None:
        """OOM kills per service: the exit ledger's count (once per kill, across recreation)
        when wired up, else the kills seen by this planner inside the budget window."""
        now = self._clock.monotonic()
        for service in evidence.services.values():
            if self._oom_kills is not None:
                service.oom_kills_recent = self._oom_kills(evidence.project, service.name)
                continue
            key = (evidence.deployment, service.name)
            seen = [t for t in self._oom_seen.get(key, []) if t >= now - self._oom_window]
            if service.oom_killed and service.problem:
                seen.append(now)
            self._oom_seen[key] = seen
            service.oom_kills_recent = len(seen)


def judge_advice(consultation: Any, rules: Diagnosis) -> Diagnosis:
    """Use the adviser's answer when it holds allowed actions; record why when it does not.

    An explicit empty list ("nothing will help") leads to a give-up with the model's reason.
    """
    outcome = str(getattr(consultation, "outcome", "failed"))
    advice = getattr(consultation, "advice", None)
    record: dict[str, object] = {"outcome": outcome, "used": False}
    if advice is not None:
        record.update(answer=advice.diagnosis, dropped=list(advice.dropped),
                      suggested=[s.describe() for s in advice.suggestions],
                      declined=bool(getattr(advice, "declined", False)))
    else:
        record["error"] = getattr(consultation, "error", "") or outcome
    if advice is not None and advice.suggestions:
        record["used"] = True
        return Diagnosis(
            summary=advice.diagnosis or rules.summary,
            suggestions=list(advice.suggestions),
            source="llm",
            details=[*rules.details, *(f"dropped: {d}" for d in advice.dropped)],
            llm=record,
        )
    if advice is not None and getattr(advice, "declined", False):
        reason = f"the adviser says no action would help: {advice.diagnosis or 'no reason given'}"
        record["why_not_used"] = "it answered with an empty list"
        return Diagnosis(reason, needs_human=reason, source="llm",
                         details=rules.details, llm=record)
    why = "; ".join(advice.dropped) if advice is not None and advice.dropped else (
        str(record.get("error") or "no allowed action in the answer"))
    record["why_not_used"] = why
    rules.llm = record
    rules.details = [*rules.details, f"adviser not used: {why}"]
    return rules
