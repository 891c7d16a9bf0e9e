"""Builds the host report at start and at every engine reconnect; warns once per problem."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiodocker
import aiohttp
import structlog

from stackmedic.engine.client import EngineClient
from stackmedic.engine.identity import EngineIdentity, identify
from stackmedic.hostinfo.checks import (
    cgroup_facts,
    host_problems,
    rootless_controllers,
    source_facts,
)
from stackmedic.hostinfo.compose import describe_compose
from stackmedic.hostinfo.model import ComposeFacts, EngineFacts, HostReport, Problem
from stackmedic.observe.events import EngineConnected
from stackmedic.resources import ResourceMonitor, ResourcesConfig
from stackmedic.resources.cgroup_paths import rootless_uid
from stackmedic.resources.cgroups import CgroupLayout
from stackmedic.resources.detect import layout_for

log = structlog.get_logger(__name__)


class HostInspector:
    """Knows the host: the engine, its cgroups, the resource source and Compose."""

    def __init__(
        self,
        *,
        engine: EngineClient,
        resources: ResourceMonitor | None,
        config: ResourcesConfig,
        compose_command: list[str] | None,
        compose_error: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._resources = resources
        self._config = config
        self._compose_command = compose_command
        self._compose_error = compose_error
        self._clock = clock
        self._identity: EngineIdentity | None = None
        self._layout: CgroupLayout | None = None
        self._controllers: list[str] | None = None
        self._compose: ComposeFacts | None = None
        self._checked_at = 0.0
        self._warned: set[str] = set()

    async def on_engine_connected(self, event: EngineConnected) -> None:
        """The engine may have come back another: look again."""
        await self.refresh()

    async def refresh(self) -> HostReport:
        """Ask the engine who it is again and look at the cgroup tree (start, reconnect)."""
        identity = await self._identify()
        if identity is not None:
            self._identity = identity
        if self._compose is None:
            self._compose = await describe_compose(self._compose_command, self._compose_error)
        root = self._config.cgroup_root
        layout = await asyncio.to_thread(layout_for, root, self._identity, self._engine.host)
        sampler = self._resources.sampler if self._resources is not None else None
        if sampler is not None and layout is not None:
            sampler.set_layout(layout)  # the engine may come back with another driver or mode
        self._layout = layout
        self._controllers = None
        rootless = self._identity is not None and self._identity.rootless
        if rootless and layout is not None and layout.version == 2:
            self._controllers = await asyncio.to_thread(rootless_controllers, root, layout.uid)
        self._checked_at = self._clock()
        return self.report()

    def report(self) -> HostReport:
        """The report now (the resource source as sampled last); new problems are logged once."""
        identity = self._identity
        sampler = self._resources.sampler if self._resources is not None else None
        layout = sampler.layout if sampler is not None else None
        if sampler is None and self._config.source != "stats_api":
            layout = self._layout
        sources = sampler.sources() if sampler is not None else {}
        directories = sampler.cgroup_directories() if sampler is not None else {}
        via_api = sum(1 for s in sources.values() if s == "stats_api")
        resources = source_facts(
            self._config.source,
            layout,
            via_cgroups=len(sources) - via_api,
            via_api=via_api,
            fallback_reason=sampler.fallback_reason if sampler is not None else None,
            api_available=self._resources is not None,
            enabled=self._config.enabled,
        )
        cgroup = cgroup_facts(
            self._config.cgroup_root,
            layout or self._layout,
            identity,
            example=next(iter(sorted(d for d, _ in directories.values())), None),
            controllers=self._controllers,
        )
        compose = self._compose or ComposeFacts(
            available=self._compose_command is not None, command=self._compose_command,
            error=self._compose_error,
        )
        problems = host_problems(identity, cgroup, resources, compose)
        self._warn_new(problems)
        return HostReport(
            checked_at=self._checked_at,
            engine=self._engine_facts(identity),
            cgroup=cgroup,
            resources=resources,
            compose=compose,
            problems=problems,
        )

    def summary(self) -> str:
        """One line for the dashboard footer."""
        return self.report().summary()

    def _engine_facts(self, identity: EngineIdentity | None) -> EngineFacts:
        host = self._engine.host
        if identity is None:
            return EngineFacts(reachable=self._engine.status.reachable, host=host)
        return EngineFacts(
            reachable=self._engine.status.reachable,
            host=host,
            kind=identity.kind.value,
            version=identity.version,
            api_version=identity.api_version,
            rootless=identity.rootless,
            rootless_uid=rootless_uid(host) if identity.rootless else None,
            os=identity.os,
            kernel=identity.kernel,
        )

    async def _identify(self) -> EngineIdentity | None:
        try:
            info = await self._engine.call("system info", self._engine.docker.system.info())
            version = await self._engine.version()
        except (aiodocker.DockerError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("host report: engine did not answer", error=str(exc) or type(exc).__name__)
            return None
        return identify(info, version)

    def _warn_new(self, problems: list[Problem]) -> None:
        """One warning naming the problems not yet warned about (not one per sample)."""
        fresh = [p for p in problems if p.key not in self._warned]
        if not fresh:
            return
        self._warned.update(p.key for p in fresh)
        log.warning("host problems found", problems=[{"what": p.what, "fix": p.fix} for p in fresh])
