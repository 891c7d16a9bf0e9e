"""User-requested lifecycle actions: record the intent first, then act through Compose."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import structlog

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.events import (
    ActionFinished,
    ActionOrigin,
    ActionRequested,
    ActionStarted,
)
from stackmedic.deployments.model import Deployment
from stackmedic.deployments.scale import ScaleKeeper
from stackmedic.engine.compose import ComposeError, ComposeResult, ComposeRunner
from stackmedic.observe.state import ObservedState
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState, EventKind, Severity

log = structlog.get_logger(__name__)


class Action(StrEnum):
    """What a user can ask of a deployment."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    DOWN = "down"


DESIRED_AFTER = {
    Action.START: DesiredState.RUNNING,
    Action.RESTART: DesiredState.RUNNING,
    Action.STOP: DesiredState.STOPPED,
    Action.DOWN: DesiredState.STOPPED,
}


class ActionSpan(Protocol):
    """When one of the agent's own actions ran, on the engine's clock."""

    @property
    def start(self) -> float:
        """When it began."""
        ...

    @property
    def end(self) -> float | None:
        """When it ended (its tail included); None while it runs."""
        ...


SpanT = TypeVar("SpanT", bound=ActionSpan)


class OwnActions(Protocol[SpanT]):
    """What an action needs of the intent tracker: its events marked as the agent's own."""

    # Told before the action starts (and synchronously), so that no engine event it
    # causes can be taken for a person's; ``intent.IntentTracker`` is the one in use.

    def begin_action(self, deployment: str, action: str = ...,
                     services: frozenset[str] | None = ...) -> SpanT:
        """The agent starts acting on ``deployment``: its events are not a person's."""
        ...

    async def end_action(self, deployment: str, window: SpanT | None = ...) -> None:
        """The agent's action on ``deployment`` ended."""
        ...


class UnknownDeployment(LookupError):
    """No deployment has that name."""


class ComposeUnavailable(RuntimeError):
    """Compose v2 could not be found, so no action can run."""


class DeploymentActions:
    """Runs start/stop/restart/down with one action at a time per deployment.

    It tells the rest of the agent through the bus: ``ActionRequested`` once a person's
    desired state is recorded, ``ActionStarted`` / ``ActionFinished`` around every action
    (a person's or recovery's).
    """

    def __init__(
        self,
        catalog: Catalog,
        runner: ComposeRunner | None,
        desired: DesiredStateStore,
        events: EventLog,
        intent: OwnActions[Any],
        observed: ObservedState,
        bus: Bus | None = None,
        scale: ScaleKeeper | None = None,
    ) -> None:
        self._catalog = catalog
        self._bus = bus
        self._runner = runner
        self._desired = desired
        self._events = events
        self._intent = intent
        self._observed = observed
        self._scale = scale
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, deployment: str) -> asyncio.Lock:
        """The lock that serialises every action on one deployment (recovery uses it too)."""
        return self._locks.setdefault(deployment, asyncio.Lock())

    @asynccontextmanager
    async def acting(
        self,
        deployment: str,
        *,
        action: str = "recover",
        origin: ActionOrigin = ActionOrigin.RECOVERY,
        services: Collection[str] | None = None,
    ) -> AsyncIterator[None]:
        """Hold the deployment's lock; the events ``action`` can cause are the agent's own.

        Only the events such an action can cause, and only for ``services`` (every service
        when None), are taken as the agent's: a person's stop meanwhile is still theirs.
        The default is a recovery, which may stop, start or recreate what it touches.
        """
        async with self.lock(deployment):
            # One window answers "is this engine event ours?" for everyone: the intent
            # tracker keeps it, and the bus events carry its very start and end.
            window: ActionSpan = self._intent.begin_action(
                deployment, action, frozenset(services) if services is not None else None)
            await self._publish(ActionStarted(deployment, action, origin, window.start))
            ok = False
            try:
                yield
                ok = True
            finally:
                await self._intent.end_action(deployment, window)
                await self._publish(ActionFinished(deployment, action, origin, ok, time.time(),
                                                   until=window.end))

    async def _publish(self, event: object) -> None:
        if self._bus is not None:
            await self._bus.publish(event)

    async def perform(self, name: str, action: Action, source: str) -> ComposeResult:
        """Record the desired state for ``action``, then run it; raise on Compose failure."""
        deployment = self._catalog.get(name)
        if deployment is None:
            raise UnknownDeployment(name)
        record, changed = self._desired.set(name, DESIRED_AFTER[action], source)
        self._events.record(
            EventKind.INTENT_CHANGED if changed else EventKind.INTENT_CONFIRMED,
            f"desired state {record.state.value} ({action.value} requested by {source})",
            deployment=name,
            data={"state": record.state.value, "source": source, "action": action.value},
        )
        # Before the lock: a stop must cancel a pending recovery, not wait behind it.
        await self._publish(ActionRequested(name, action.value, source, time.time()))
        if self._runner is None:
            raise ComposeUnavailable("Docker Compose v2 is not available on this host")
        async with self.acting(name, action=action.value, origin=ActionOrigin.PERSON):
            try:
                result = await self._run(deployment, action)
            except ComposeError as exc:
                self._events.record(
                    EventKind.ACTION_FAILED,
                    f"{action.value} failed: {exc.stderr or exc}",
                    deployment=name,
                    severity=Severity.WARNING,
                    data={"action": action.value, "source": source},
                )
                raise
        self._events.record(
            EventKind.ACTION, f"{action.value} done", deployment=name,
            data={"action": action.value, "source": source},
        )
        return result

    async def keep_stopped(self, name: str, services: Collection[str]) -> ComposeResult:
        """Stop ``services`` again, as their desired state says, without a new intent.

        For what Docker's restart policy started at boot although a person had stopped it
        (``always`` restarts even a stopped container when the daemon starts).
        behaviour: reboot-policy-restarts-stopped
        """
        deployment = self._catalog.get(name)
        if deployment is None:
            raise UnknownDeployment(name)
        if self._runner is None:
            raise ComposeUnavailable("Docker Compose v2 is not available on this host")
        workdir = deployment.path or deployment.files[0].parent
        async with self.acting(name, action="stop", services=services):
            return await self._runner.run(workdir, deployment.files, deployment.project,
                                          ["stop", *sorted(services)])

    async def _run(self, deployment: Deployment, action: Action) -> ComposeResult:
        assert (self._runner is not None and deployment.path is not None) or deployment.files
        workdir = deployment.path or deployment.files[0].parent
        args = {
            Action.START: ["up", "--detach", "--remove-orphans"],
            Action.STOP: ["stop"],
            Action.DOWN: ["down", "--remove-orphans"],
            Action.RESTART: ["restart"],
        }[action]
        if action == Action.RESTART and not self._observed.for_project(deployment.project):
            args = ["up", "--detach", "--remove-orphans"]
        if args[0] == "up" and self._scale is not None:
            args = [*args, *self._scale.args(deployment, deployment.services)]
        assert self._runner is not None
        return await self._runner.run(workdir, deployment.files, deployment.project, args)
