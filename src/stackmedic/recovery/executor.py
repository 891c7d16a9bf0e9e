"""Carries out suggested actions through Compose or the Engine API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiodocker
import structlog

from stackmedic.deployments.model import Deployment
from stackmedic.deployments.scale import ScaleKeeper
from stackmedic.engine.client import EngineClient
from stackmedic.engine.compose import ComposeError, ComposeRunner
from stackmedic.recovery.suggestions import ServiceAction, Suggestion

log = structlog.get_logger(__name__)

UP_ONE = ["up", "--detach", "--no-deps"]


@dataclass
class ActionOutcome:
    """How one action went."""

    suggestion: Suggestion
    ok: bool
    seconds: float
    error: str | None = None
    engine_silent: str | None = None  # why the engine did not answer right after a failure

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        found: dict[str, Any] = {
            "service": self.suggestion.service,
            "action": self.suggestion.action.value,
            "title": self.suggestion.title or self.suggestion.describe(),
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }
        if self.engine_silent is not None:
            found["engine_silent"] = self.engine_silent
        return found


class ActionFailed(Exception):
    """An action could not be carried out; the message says why."""


class ActionExecutor:
    """Runs one suggestion at a time for a deployment."""

    def __init__(self, runner: ComposeRunner | None, engine: EngineClient,
                 scale: ScaleKeeper | None = None) -> None:
        self._runner = runner
        self._engine = engine
        self._scale = scale

    async def execute(self, deployment: Deployment, suggestion: Suggestion) -> ActionOutcome:
        """Run ``suggestion``; never raises for an action's own failure."""
        started = time.monotonic()
        try:
            await self._dispatch(deployment, suggestion)
        except (ActionFailed, ComposeError, aiodocker.DockerError) as exc:
            message = str(exc)
            if isinstance(exc, ComposeError) and exc.stderr:
                message = f"{exc}: {exc.stderr.strip()[-1500:]}"
            log.warning("recovery action failed", deployment=deployment.name,
                        action=suggestion.describe(), error=message)
            return ActionOutcome(suggestion, False, time.monotonic() - started, message,
                                 engine_silent=await self._engine_silent())
        return ActionOutcome(suggestion, True, time.monotonic() - started)

    async def execute_starts(self, deployment: Deployment, suggestions: list[Suggestion]
                             ) -> list[ActionOutcome]:
        """Start several services of one deployment with one Compose call, which orders
        them by their dependencies and waits for their conditions; when it fails, each
        is tried on its own so that every outcome says what happened to its service."""
        if len(suggestions) == 1:
            return [await self.execute(deployment, suggestions[0])]
        started = time.monotonic()
        try:
            services = [s.service for s in suggestions]
            await self._compose(deployment,
                                [*self._up(deployment, services), "--no-recreate", *services])
        except (ActionFailed, ComposeError) as exc:
            log.info("starting together failed; one at a time", deployment=deployment.name,
                     error=str(exc))
            return [await self.execute(deployment, s) for s in suggestions]
        seconds = time.monotonic() - started
        return [ActionOutcome(s, True, seconds) for s in suggestions]

    async def _engine_silent(self) -> str | None:
        """Why the engine does not answer now, or None when it does: an action that failed
        while the engine was away says nothing about the deployment."""
        if await self._engine.ping():
            return None
        return self._engine.status.error or "Docker did not answer"

    async def _dispatch(self, deployment: Deployment, suggestion: Suggestion) -> None:
        action, target = suggestion.action, suggestion.service
        if action == ServiceAction.CREATE_NETWORK:
            await self._create_network(target)
            return
        up = self._up(deployment, [target])
        steps: dict[ServiceAction, list[list[str]]] = {
            ServiceAction.START: [[*up, "--no-recreate", target]],
            ServiceAction.RESTART: [["restart", target]],
            ServiceAction.RECREATE: [[*up, "--force-recreate", target]],
            ServiceAction.PULL: [["pull", target], [*up, target]],
            ServiceAction.REBUILD: [["build", target], [*up, target]],
        }
        for args in steps[action]:
            await self._compose(deployment, args)

    def _up(self, deployment: Deployment, services: list[str]) -> list[str]:
        """``up`` of ``services`` alone, each at the scale it has now."""
        return [*UP_ONE, *(self._scale.args(deployment, services) if self._scale else [])]

    async def _compose(self, deployment: Deployment, args: list[str]) -> None:
        if self._runner is None:
            raise ActionFailed("Docker Compose v2 is not available")
        if not deployment.files:
            raise ActionFailed("the deployment's compose files are not known")
        workdir = deployment.path or deployment.files[0].parent
        await self._runner.run(workdir, deployment.files, deployment.project, args)

    async def _create_network(self, name: str) -> None:
        if await self._engine.network_exists(name):
            return  # created meanwhile
        await self._engine.create_network({"Name": name, "CheckDuplicate": True})
        log.info("network created", network=name)
