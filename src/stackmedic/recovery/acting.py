"""Carrying out a diagnosis: each allowed action in order, recorded, under the lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.executor import ActionExecutor, ActionOutcome
from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.suggestions import ServiceAction, Suggestion
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState, EventKind, Severity


class Actor:
    """Runs the suggested actions of one recovery run."""

    def __init__(self, catalog: Catalog, desired: DesiredStateStore,
                 actions: DeploymentActions, executor: ActionExecutor, events: EventLog, *,
                 wants_running: Callable[[str], bool],
                 stop_pending: Callable[[str], bool]) -> None:
        self._catalog = catalog
        self._desired = desired
        self._actions = actions
        self._executor = executor
        self._events = events
        self._wants_running = wants_running
        self._stop_pending = stop_pending

    async def act(self, name: str, diagnosis: Diagnosis, evidence: Evidence,
                  done: Callable[[ActionOutcome], None] = lambda outcome: None
                  ) -> list[ActionOutcome] | None:
        """Carry out the diagnosis's actions under the deployment's lock; None when the
        desired state changed meanwhile. Never restarts a running, healthy container.

        ``done`` hears of each action as it ends, so a run cut short still knows what it did.
        """
        deployment = self._catalog.get(name)
        assert deployment is not None
        outcomes: list[ActionOutcome] = []
        async with self._actions.acting(name):
            if not self._wants_running(name) or self._stop_pending(name):
                return None  # the user stopped it while we were diagnosing
            # Lazily: whether a later action still applies is judged after the earlier ran.
            for batch in _batches(diagnosis.suggestions,
                                  lambda s: self._wanted(name, s, diagnosis, evidence)):
                for outcome in await self._executor.execute_starts(deployment, batch) \
                        if batch[0].action == ServiceAction.START \
                        else [await self._executor.execute(deployment, batch[0])]:
                    outcomes.append(outcome)
                    done(outcome)
                    self._record(name, outcome)
                if not outcomes[-1].ok and batch[0].action in (
                    ServiceAction.CREATE_NETWORK, ServiceAction.PULL, ServiceAction.REBUILD
                ):
                    break
        return outcomes

    def _wanted(self, name: str, suggestion: Suggestion, diagnosis: Diagnosis,
                evidence: Evidence) -> bool:
        """Whether a suggested action still applies: its service is wanted running and is
        not a running, healthy container (never restarted, unless it follows another)."""
        if suggestion.action != ServiceAction.CREATE_NETWORK and \
                self._desired.effective(name, suggestion.service) != DesiredState.RUNNING:
            return False
        service = evidence.services.get(suggestion.service)
        return not (suggestion.action in (ServiceAction.START, ServiceAction.RESTART)
                    and service is not None and service.running
                    and service.status == "running"
                    and suggestion.service not in diagnosis.followers)

    def _record(self, name: str, outcome: ActionOutcome) -> None:
        suggestion = outcome.suggestion
        self._events.record(
            EventKind.RECOVERY_ACTION,
            f"{suggestion.describe()}: {'done' if outcome.ok else outcome.error}",
            deployment=name, service=suggestion.service,
            severity=Severity.INFO if outcome.ok else Severity.WARNING,
            data=outcome.as_dict(),
        )


def _batches(suggestions: list[Suggestion], wanted: Callable[[Suggestion], bool]
             ) -> Iterator[list[Suggestion]]:
    """The wanted suggestions, consecutive starts together (one Compose call), every
    other action alone."""
    starts: list[Suggestion] = []
    for suggestion in suggestions:
        if not wanted(suggestion):
            continue
        if suggestion.action == ServiceAction.START:
            starts.append(suggestion)
            continue
        if starts:
            yield starts
            starts = []
        yield [suggestion]
    if starts:
        yield starts


def image_unavailable(outcomes: list[ActionOutcome], evidence: Evidence) -> str | None:
    """Why no image can be had, when a pull failed for a service without a build context."""
    for outcome in outcomes:
        if outcome.ok or outcome.suggestion.action != ServiceAction.PULL:
            continue
        service = evidence.services.get(outcome.suggestion.service)
        image = service.image if service else "?"
        return (f"image unavailable: {image} is not present locally, the pull failed "
                f"and {outcome.suggestion.service} has no build context")
    return None
