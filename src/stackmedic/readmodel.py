"""What the API and the dashboard may read of a running agent, as a typed protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from fastapi import Request

if TYPE_CHECKING:
    from stackmedic.config.model import Settings
    from stackmedic.deployments.actions import DeploymentActions
    from stackmedic.deployments.catalog import Catalog
    from stackmedic.engine.client import EngineClient
    from stackmedic.engine.compose import ComposeRunner
    from stackmedic.engine.events import EventStream
    from stackmedic.health import HealthEngine
    from stackmedic.hostinfo.inspector import HostInspector
    from stackmedic.logwatch.build import LogParts
    from stackmedic.metrics import Metrics
    from stackmedic.notify.service import Notifier
    from stackmedic.observe.healthchecks import HealthcheckRunner
    from stackmedic.observe.monitor import ContainerMonitor
    from stackmedic.observe.state import ObservedState
    from stackmedic.probes import Probes
    from stackmedic.recovery.exits import ExitLedger
    from stackmedic.recovery.service import RecoveryService
    from stackmedic.resources import ResourceMonitor
    from stackmedic.store.desired import DesiredStateStore
    from stackmedic.store.events import EventLog


class AgentView(Protocol):
    """The parts of the agent that the API and the dashboard read and act through."""

    # Read-only properties, so that the agent's plain attributes satisfy them.
    @property
    def settings(self) -> Settings:
        """The agent's configuration."""

    @property
    def started_at(self) -> float:
        """When the agent started, in epoch seconds."""

    @property
    def token(self) -> str:
        """The operator API token."""

    @property
    def read_token(self) -> str:
        """The read-only API token."""

    @property
    def catalog(self) -> Catalog:
        """The deployments found on disk."""

    @property
    def desired(self) -> DesiredStateStore:
        """What each deployment and service should be doing."""

    @property
    def events(self) -> EventLog:
        """The agent's event log."""

    @property
    def observed(self) -> ObservedState:
        """The containers as last seen on the engine."""

    @property
    def engine(self) -> EngineClient:
        """The container engine client."""

    @property
    def stream(self) -> EventStream:
        """The engine's event stream."""

    @property
    def monitor(self) -> ContainerMonitor:
        """The container monitor (sweeps)."""

    @property
    def healthchecks(self) -> HealthcheckRunner:
        """Healthchecks run by the agent where the engine does not run them."""

    @property
    def health(self) -> HealthEngine:
        """Health verdicts and their history."""

    @property
    def probes(self) -> Probes:
        """Endpoint probes, their results and the labels that could not be used."""

    @property
    def exits(self) -> ExitLedger:
        """Container exits, OOM kills among them."""

    @property
    def resources(self) -> ResourceMonitor:
        """Resource samples, series and alerts."""

    @property
    def logwatch(self) -> LogParts:
        """Followed container logs, their fingerprints and log-pattern bursts."""

    @property
    def recovery(self) -> RecoveryService:
        """Recovery state, runs and diagnoses."""

    @property
    def actions(self) -> DeploymentActions:
        """Start, stop and restart of deployments."""

    @property
    def notifier(self) -> Notifier:
        """Notification channels, outbox and silences."""

    @property
    def metrics(self) -> Metrics:
        """The Prometheus exposition."""

    @property
    def host_report(self) -> HostInspector:
        """Checks of the host the agent runs on."""

    @property
    def runner(self) -> ComposeRunner | None:
        """The Compose runner, None when Compose is unavailable."""

    @property
    def compose_error(self) -> str | None:
        """Why Compose is unavailable, if it is."""

    def liveness(self) -> dict[str, Any]:
        """The agent's own liveness, as ``/healthz`` reports it."""
        ...


def agent_view(request: Request) -> AgentView:
    """The agent serving this request, as the API and the dashboard may see it."""
    found: AgentView = request.app.state.agent
    return found
