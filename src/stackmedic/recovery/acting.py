"""Carrying out a diagnosis: each allowed action in order, recorded, under the lock."""

from __future__ import annotations

from collections.abc import Callable

from stackmedic.deployments.actions import DeploymentActions
from stackmedic.deployments.catalog import Catalog
from stackmedic.recovery.evidence import Evidence
from stackmedic.recovery.executor import ActionExecutor, ActionOutcome
from stackmedic.recovery.rules import Diagnosis
from stackmedic.recovery.suggestions import ServiceAction
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
            for suggestion in diagnosis.suggestions:
                if suggestion.action != ServiceAction.CREATE_NETWORK and \
                        self._desired.effective(name, suggestion.service) != DesiredState.RUNNING:
                    continue
                service = evidence.services.get(suggestion.service)
                if suggestion.action in (ServiceAction.START, ServiceAction.RESTART) and \
                        service is not None and service.running and \
                        service.status == "running" and \
                        suggestion.service not in diagnosis.followers:
                    continue  # never restart a running, healthy container
                outcome = await self._executor.execute(deployment, suggestion)
                outcomes.append(outcome)
                done(outcome)
                self._events.record(
                    EventKind.RECOVERY_ACTION,
                    f"{suggestion.describe()}: {'done' if outcome.ok else outcome.error}",
                    deployment=name, service=suggestion.service,
                    severity=Severity.INFO if outcome.ok else Severity.WARNING,
                    data=outcome.as_dict(),
                )
                if not outcome.ok and suggestion.action in (
                    ServiceAction.CREATE_NETWORK, ServiceAction.PULL, ServiceAction.REBUILD
                ):
                    break
        return outcomes


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
