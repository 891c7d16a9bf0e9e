"""Keeps the catalog current: rescans, logs what changed, records first sight of each one.

First sight records what is observed, so only while the engine session says the
containers were read in full since the stream (re)connected; each connection rescans.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from stackmedic.deployments.catalog import Catalog, CatalogChange
from stackmedic.observe.events import EngineConnected, EngineLost, EngineSynced
from stackmedic.observe.state import ObservedState
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog
from stackmedic.types import DesiredState, EventKind, IntentSource, Severity

Refresh = Callable[[], Awaitable[None]]
Removed = Callable[[str], Awaitable[None]]


class CatalogWatcher:
    """One rescan of the deployments and what follows from it."""

    def __init__(
        self,
        catalog: Catalog,
        observed: ObservedState,
        desired: DesiredStateStore,
        events: EventLog,
        *,
        after: Refresh,
        on_removed: Removed,
    ) -> None:
        self._catalog = catalog
        self._observed = observed
        self._desired = desired
        self._events = events
        self._synced = False  # as the engine session last told
        self._after = after
        self._on_removed = on_removed

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """A (re)connection: rescan with what the resync found."""
        self._synced = event.synced
        await self.refresh()

    async def on_engine_synced(self, event: EngineSynced) -> None:
        """The containers were read after a failed resync: first sight may be recorded."""
        self._synced = True

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The stream ended: what is observed is not current."""
        self._synced = False

    async def refresh(self) -> CatalogChange:
        """Rescan deployments, record first sight of new ones and log what changed."""
        containers = [{"Labels": c.labels} for c in self._observed.all()]
        change = await self._catalog.rescan(containers)
        for name in change.added:
            self._log_definition(name, EventKind.DEPLOYMENT_FOUND,
                                 f"deployment found ({self._catalog.deployments[name].kind})")
        for name in change.removed:
            self._events.record(EventKind.DEPLOYMENT_GONE, "deployment no longer found",
                                deployment=name)
            await self._on_removed(name)
        for name in change.changed:
            self._log_definition(name, EventKind.DEPLOYMENT_CHANGED, "compose file changed")
        self.record_first_sight()
        await self._after()
        return change

    def _log_definition(self, name: str, kind: EventKind, message: str) -> None:
        deployment = self._catalog.deployments[name]
        self._events.record(
            kind, message + ("" if deployment.valid else "; the compose file is invalid"),
            deployment=name,
            severity=Severity.INFO if deployment.valid else Severity.WARNING,
            data={"error": deployment.error} if deployment.error else None,
        )

    def record_first_sight(self) -> None:
        """Give every deployment without a desired state the state it is observed in."""
        if not self._synced:
            return  # never invent intent from a blind view
        for name, deployment in self._catalog.deployments.items():
            containers = self._observed.for_project(deployment.project)
            state = (
                DesiredState.RUNNING if any(c.running for c in containers)
                else DesiredState.STOPPED
            )
            record, new = self._desired.set_if_absent(name, state, IntentSource.FIRST_SEEN)
            if new:
                self._events.record(
                    EventKind.INTENT_CHANGED,
                    f"first seen {state.value}; desired state recorded as {state.value}",
                    deployment=name, data={"state": state.value, "source": record.source},
                )
