"""Collects evidence from the engine, Compose and the agent's own state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import aiodocker
import aiohttp
import structlog

from stackmedic.deployments.model import Deployment
from stackmedic.engine.client import EngineClient
from stackmedic.engine.compose import ComposeError, ComposeRunner
from stackmedic.health.model import DeploymentHealth
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.evidence import Evidence, service_evidence
from stackmedic.redact import redact_text
from stackmedic.store.desired import DesiredStateStore

log = structlog.get_logger(__name__)

MemoryTrend = Callable[[str], list[tuple[float, int]]]


class EvidenceCollector:
    """Builds ``Evidence`` for one deployment."""

    def __init__(
        self,
        engine: EngineClient,
        runner: ComposeRunner | None,
        observed: ObservedState,
        desired: DesiredStateStore,
        *,
        log_tail_lines: int,
        memory_trend: MemoryTrend | None = None,
        secrets: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self._engine = engine
        self._runner = runner
        self._observed = observed
        self._desired = desired
        self._tail = log_tail_lines
        self._memory_trend = memory_trend
        self._secrets = secrets
        self._hashes: dict[str, tuple[str, dict[str, str]]] = {}

    async def collect(self, deployment: Deployment, health: DeploymentHealth | None) -> Evidence:
        """Gather everything; parts that cannot be read are left out, never fatal."""
        containers = self._observed.for_project(deployment.project)
        reachable = self._engine.status.reachable
        images = {s.image for s in deployment.services.values() if s.image}
        images |= {c.image for c in containers if c.image}
        present: dict[str, bool] = {}
        missing_networks: list[str] = []
        if reachable:
            present, missing_networks, hashes = await asyncio.gather(
                self._images_present(images),
                self._missing_networks(deployment.external_networks),
                self._expected_hashes(deployment),
            )
        else:
            hashes = await self._expected_hashes(deployment)
        desired: dict[str, str | None] = {}
        for name in deployment.services:
            state = self._desired.effective(deployment.name, name)
            desired[name] = state.value if state is not None else None
        services = service_evidence(
            deployment, health, containers, images_present=present, desired=desired,
            expected_hashes=hashes,
            network_names=deployment.network_names,
        )
        secrets = list(self._secrets())
        for service in services.values():
            if not service.problem:
                continue
            mine = [c for c in containers if c.service == service.name]
            if mine and reachable and self._tail:
                service.log_tail = [redact_text(line, secrets)
                                    for line in await self._log_tail(mine[0].id)]
            if mine and self._memory_trend is not None:
                service.memory_trend = self._memory_trend(mine[0].id)
            if service.health_output:
                service.health_output = redact_text(service.health_output, secrets)
        return Evidence(
            deployment=deployment.name,
            project=deployment.project,
            verdict=health.verdict.value if health else "unknown",
            reason=health.reason if health else "",
            compose_valid=deployment.valid,
            compose_error=deployment.error,
            services=services,
            external_networks=list(deployment.external_networks),
            missing_networks=missing_networks,
            docker_reachable=reachable,
        )

    async def _images_present(self, images: set[str]) -> dict[str, bool]:
        present = {}
        for image in sorted(images):
            found = await self._engine.image_present(image)
            if found is not None:
                present[image] = found
        return present

    async def _missing_networks(self, names: list[str]) -> list[str]:
        missing = []
        for name in names:
            try:
                if not await self._engine.network_exists(name):
                    missing.append(name)
            except (aiodocker.DockerError, aiohttp.ClientError, OSError):
                pass
        return missing

    async def _expected_hashes(self, deployment: Deployment) -> dict[str, str]:
        """Compose's config hash per service, to spot containers that drifted from the file
        (read once per version of the files)."""
        if self._runner is None or not deployment.valid or not deployment.files:
            return {}
        cached = self._hashes.get(deployment.name)
        if cached is not None and cached[0] == deployment.fingerprint:
            return cached[1]
        hashes = await self._read_hashes(deployment)
        if hashes and deployment.fingerprint:
            self._hashes[deployment.name] = (deployment.fingerprint, hashes)
        return hashes

    async def _read_hashes(self, deployment: Deployment) -> dict[str, str]:
        assert self._runner is not None
        workdir = deployment.path or deployment.files[0].parent
        try:
            result = await self._runner.run(
                workdir, deployment.files, deployment.project, ["config", "--hash", "*"],
                timeout=self._runner.config_timeout,
            )
        except ComposeError:
            return {}
        hashes = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                hashes[parts[0]] = parts[1]
        return hashes

    async def _log_tail(self, container_id: str) -> list[str]:
        try:
            lines = await self._engine.container_logs(container_id, self._tail, timeout=10)
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError):
            return []
        return [str(line).rstrip("\n") for line in lines][-self._tail:]
