"""Finds deployments: folders under ``deployments_path`` and, optionally, running projects."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from stackmedic.deployments.model import (
    Deployment,
    DeploymentKind,
    ServiceSpec,
    external_networks_from_config,
    network_names_from_config,
    services_from_config,
)
from stackmedic.deployments.names import InvalidName, project_name_for, validate_name
from stackmedic.engine.compose import ComposeError, ComposeRunner
from stackmedic.store.facts import Facts

log = structlog.get_logger(__name__)

COMPOSE_FILENAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
LABEL_PROJECT = "com.docker.compose.project"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_SERVICE = "com.docker.compose.service"
ADOPTED_FACT = "adopted-projects"


@dataclass
class CatalogChange:
    """What a rescan found new, gone or changed."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def compose_file_in(folder: Path) -> Path | None:
    """The compose file of a deployment folder, by Compose's own order of preference."""
    for filename in COMPOSE_FILENAMES:
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def _fingerprint(files: list[Path]) -> str:
    parts = []
    for f in [*files, *(f.parent / ".env" for f in files[:1])]:
        try:
            st = f.stat()
            parts.append(f"{f}:{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append(f"{f}:missing")
    return "|".join(parts)


class Catalog:
    """The current set of deployments, refreshed by ``rescan``."""

    def __init__(
        self,
        deployments_path: Path,
        runner: ComposeRunner | None,
        facts: Facts,
        *,
        adopt_running: bool = False,
    ) -> None:
        # Compose runs inside each deployment's folder: every path it gets must be absolute.
        self.deployments_path = deployments_path.expanduser().resolve()
        self.runner = runner
        self.adopt_running = adopt_running
        self._facts = facts
        self.deployments: dict[str, Deployment] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Deployment | None:
        """The deployment called ``name``, if known."""
        return self.deployments.get(name)

    def by_project(self, project: str) -> Deployment | None:
        """The deployment whose Compose project is ``project``."""
        for deployment in self.deployments.values():
            if deployment.project == project:
                return deployment
        return None

    async def rescan(self, containers: list[dict[str, Any]] | None = None) -> CatalogChange:
        """Re-read the folders (and the engine's projects when adopting); report differences."""
        async with self._lock:
            found: dict[str, Deployment] = {}
            for deployment in await self._load_folders(self._folders()):
                if deployment is not None:
                    found[deployment.name] = deployment
            if self.adopt_running:
                for deployment in await self._adopted(containers or [], found):
                    found.setdefault(deployment.name, deployment)
            change = CatalogChange(
                added=sorted(set(found) - set(self.deployments)),
                removed=sorted(set(self.deployments) - set(found)),
                changed=sorted(
                    n for n in set(found) & set(self.deployments)
                    if found[n].fingerprint != self.deployments[n].fingerprint
                ),
            )
            self.deployments = found
            return change

    def _folders(self) -> list[Path]:
        try:
            entries = sorted(self.deployments_path.iterdir())
        except OSError:
            return []
        return [e for e in entries if e.is_dir() and not e.name.startswith(".")]

    async def _load_folders(self, folders: list[Path]) -> list[Deployment | None]:
        """Every folder's deployment, in folder order, read side by side (the Compose
        runner bounds how many of its processes run at once)."""
        return list(await asyncio.gather(*(self._load_folder(f) for f in folders)))

    async def _load_folder(self, folder: Path) -> Deployment | None:
        try:
            name = validate_name(folder.name)
        except InvalidName as exc:
            log.warning("deployment folder skipped", folder=str(folder), reason=str(exc))
            return None
        compose_file = compose_file_in(folder)
        if compose_file is None:
            return None
        fingerprint = _fingerprint([compose_file])
        previous = self.deployments.get(name)
        if previous is not None and previous.fingerprint == fingerprint:
            return previous
        deployment = Deployment(
            name=name,
            project=project_name_for(name),
            kind=DeploymentKind.FOLDER,
            path=folder,
            files=[compose_file],
            fingerprint=fingerprint,
        )
        await self._read_model(deployment)
        return deployment

    async def _read_model(self, deployment: Deployment) -> None:
        if self.runner is None or deployment.path is None:
            deployment.error = "Docker Compose v2 is not available"
            return
        try:
            model = await self.runner.config(deployment.path, deployment.files)
        except ComposeError as exc:
            deployment.error = exc.stderr or str(exc)
            return
        deployment.project = str(model.get("name") or deployment.project)
        deployment.services = services_from_config(model)
        deployment.external_networks = external_networks_from_config(model)
        deployment.network_names = network_names_from_config(model)

    async def _adopted(
        self, containers: list[dict[str, Any]], folders: dict[str, Deployment]
    ) -> list[Deployment]:
        known: dict[str, dict[str, Any]] = json.loads(self._facts.get(ADOPTED_FACT) or "{}")
        services: dict[str, set[str]] = {}
        for c in containers:
            labels = c.get("Labels") or {}
            project = labels.get(LABEL_PROJECT)
            if not project:
                continue
            services.setdefault(project, set()).add(labels.get(LABEL_SERVICE, ""))
            if project not in known:
                known[project] = {
                    "working_dir": labels.get(LABEL_WORKDIR),
                    "files": [f for f in (labels.get(LABEL_FILES) or "").split(",") if f],
                }
        folder_projects = {d.project for d in folders.values()}
        result = []
        for project, info in sorted(known.items()):
            if project in folder_projects:
                continue
            try:
                name = validate_name(project)
            except InvalidName:
                continue
            files = [Path(f) for f in info.get("files") or []]
            workdir = Path(info["working_dir"]) if info.get("working_dir") else None
            if project not in services and not all(f.is_file() for f in files):
                continue  # gone from the engine and from disk
            fingerprint = _fingerprint(files) + "|" + ",".join(sorted(services.get(project, ())))
            previous = self.deployments.get(name)
            if previous is not None and previous.fingerprint == fingerprint:
                result.append(previous)
                continue
            deployment = Deployment(
                name=name, project=project, kind=DeploymentKind.ADOPTED,
                path=workdir, files=files, fingerprint=fingerprint,
            )
            if files and all(f.is_file() for f in files):
                await self._read_model(deployment)
                deployment.project = project
            else:
                deployment.services = {
                    s: ServiceSpec(name=s) for s in sorted(services.get(project, ())) if s
                }
            result.append(deployment)
        self._facts.set(ADOPTED_FACT, json.dumps(known, sort_keys=True))
        return result
