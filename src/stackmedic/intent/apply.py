"""What a person's stop or start, once judged, makes of the desired state."""

from __future__ import annotations

from collections.abc import Callable

from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.scale import service_ids
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.state import ObservedState
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.pending import StoredStop
from stackmedic.types import DesiredState, IntentSource

Target = tuple[str, str | None]  # what changed, for the log ("deployment", "service x"), service
NOW_STOPPED = "desired state is now stopped"


class DesiredChanges:
    """Writes observed intent to the desired state, as far as the containers still show it."""

    def __init__(self, desired: DesiredStateStore, catalog: Catalog,
                 observed: ObservedState) -> None:
        self._desired = desired
        self._catalog = catalog
        self._observed = observed

    def wanted_stopped(self, deployment: str, service: str) -> bool:
        """Whether the service is already meant to be stopped (its stop changes nothing)."""
        return self._desired.effective(deployment, service) == DesiredState.STOPPED

    def kept(self, deployment: str) -> DesiredState:
        """The deployment's desired state, left as it was by a stop that was not intent."""
        return self._desired.effective(deployment, "") or DesiredState.RUNNING

    def _kept_more(self, deployment: str, service: str) -> Target | None:
        """A person's start of a container of a scaled service they keep partly stopped:
        they keep one more running (all of them: the scale is its containers' again).
        behaviour: scale-stop-some-person
        """
        record = self._desired.scales(deployment).get(service)
        spec = self._catalog.get(deployment)
        if record is None or spec is None:
            return None
        containers = self._observed.for_project(spec.project)
        ids = service_ids(containers, service)
        if not record.applies(ids):
            return None
        running = sum(1 for c in containers if c.service == service and c.running)
        if running >= len(ids):
            self._desired.clear_scale(deployment, service)
            return f"service {service} (all {len(ids)} of its containers)", service
        self._desired.set_scale(deployment, service, running, ids)
        return f"service {service} ({running} of its {len(ids)} containers)", \
            service

    def replacement_waits(self, stop: StoredStop,
                          converging: Callable[[list[ContainerState]], bool]) -> bool:
        """Whether Compose is replacing the stopped container and has not started the new one.

        Compose creates a service's new container, stops and removes the old one, and
        starts the new ones only once every old container of the project has stopped (a
        service that takes its whole stop timeout holds the rest that long), each once what
        it depends on is healthy. ``converging`` tells, from the project's other containers,
        whether Compose may still be at work.
        behaviour: redeploy-person-compose
        """
        deployment = self._catalog.get(stop.deployment)
        if deployment is None:
            return False
        containers = self._observed.for_project(deployment.project)
        created = any(c.service == stop.service and c.id != stop.container_id
                      and c.being_created for c in containers)
        return created and converging([c for c in containers if c.id != stop.container_id])

    def replaced(self, stop: StoredStop) -> bool:
        """Whether Compose replaced the stopped container: it is removed, and a newer
        container of its service was created and has not run (its start failed, or has not
        come). A person's redeploy, never a person's stop: left to the verdict, a new
        container that cannot start is an outage to tell of, not a service to leave off.
        behaviour: redeploy-start-fails
        """
        deployment = self._catalog.get(stop.deployment)
        if deployment is None or self._observed.get(stop.container_id) is not None:
            return False
        return any(c.service == stop.service and c.status == "created" and not c.started_at
                   for c in self._observed.for_project(deployment.project))

    def stopped(self, stop: StoredStop) -> tuple[str | None, bool, str]:
        """Record a person's stop: what it stopped (None when it was started again, or
        replaced, meanwhile), whether the desired state changed, and what it is now."""
        deployment = self._catalog.get(stop.deployment)
        if deployment is None:
            return None, False, ""
        containers = self._observed.for_project(deployment.project)
        if any(c.id == stop.container_id and c.running for c in containers):
            return None, False, ""  # started again meanwhile
        running = [c for c in containers if c.service == stop.service and c.running]
        if running:
            return self._kept_some(stop, containers, len(running))
        # What still ran when the person stopped this: a shutdown since stopped the rest.
        still_running = {c.service for c in containers if c.running or (
            c.finished_at is not None and c.finished_at > stop.stop_at)}
        still_running.discard(stop.service)
        if not still_running:
            _, changed = self._desired.set(
                stop.deployment, DesiredState.STOPPED, IntentSource.OBSERVED_STOP)
            return "deployment", changed, NOW_STOPPED
        _, changed = self._desired.set(
            stop.deployment, DesiredState.STOPPED, IntentSource.OBSERVED_STOP,
            service=stop.service,
        )
        return f"service {stop.service}", changed, NOW_STOPPED

    def _kept_some(self, stop: StoredStop, containers: list[ContainerState], running: int
                   ) -> tuple[str | None, bool, str]:
        """A stop of some containers of a scaled service while others run: the person keeps
        that many running (or Compose recreated the service meanwhile: no stop).
        behaviour: scale-stop-some-person
        """
        ids = service_ids(containers, stop.service)
        if stop.container_id not in ids:
            return None, False, ""  # removed: a scale-down or a redeploy, not a stop
        changed = self._desired.set_scale(stop.deployment, stop.service, running, ids)
        return (f"a container of service {stop.service}", changed,
                f"stackmedic keeps {running} of its {len(ids)} containers running")

    def started(self, deployment: str, service: str) -> Target | None:
        """Record a person's start of a service meant to be stopped; None if it was not.

        A start of one service of a stopped deployment makes the deployment running and
        keeps stopped the services not running.
        """
        whole = self._desired.get(deployment)
        own = self._desired.get(deployment, service)
        kept = self._kept_more(deployment, service)
        if kept is not None:
            return kept
        if own is not None and own.state == DesiredState.STOPPED:
            self._desired.set(
                deployment, DesiredState.RUNNING, IntentSource.OBSERVED_START, service=service
            )
            return f"service {service}", service
        if whole is None or whole.state != DesiredState.STOPPED:
            return None
        spec = self._catalog.get(deployment)
        self._desired.set(deployment, DesiredState.RUNNING, IntentSource.OBSERVED_START)
        running = {
            c.service for c in self._observed.for_project(spec.project) if c.running
        } if spec else set()
        for other in sorted((spec.services if spec else {}).keys()):
            if other != service and other not in running:
                self._desired.set(
                    deployment, DesiredState.STOPPED, IntentSource.OBSERVED_START,
                    service=other,
                )
        return "deployment", None
