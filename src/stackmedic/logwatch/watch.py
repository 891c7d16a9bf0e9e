"""Follows the logs of every running container of every deployment and applies the rules.

Membership is read from the observed state: a follower is started for each running
container (again after it restarts, from where the last one stopped) and ends with its
stream. Matching lines are counted per fingerprint; a fingerprint that fires or resolves
becomes a notice (``on_change``). Counts and read positions are written every
``flush_seconds`` in one transaction, so an agent restart resumes where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiodocker
import aiohttp
import structlog

from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.docker_api import Docker
from stackmedic.logwatch.bursts import Bursts, Change
from stackmedic.logwatch.config import LogsConfig
from stackmedic.logwatch.fingerprint import fingerprint
from stackmedic.logwatch.follower import Follower, FollowState, Start, Target
from stackmedic.logwatch.frames import RawLine
from stackmedic.logwatch.rules import ServiceRules, rules_for
from stackmedic.logwatch.tally import Tally
from stackmedic.observe.events import ContainerChanged
from stackmedic.observe.state import ObservedState
from stackmedic.store.db import Database

log = structlog.get_logger(__name__)

RETRY_SECONDS = 5.0
DAY = 86400.0
# A fingerprint began firing or resolved: the change, the container's name, its last lines.
OnChange = Callable[[Change, str, list[str]], Coroutine[Any, Any, None]]


@dataclass
class Seen:
    """What is known about one container's log (kept after its follower ends)."""

    target: Target
    rules: ServiceRules
    follower: Follower | None = None
    task: asyncio.Task[None] | None = None
    retry_at: float = 0.0  # monotonic
    read_start: float | None = None  # the container's start when its last follower began


def log_client(host: str) -> aiodocker.Docker:
    """A client of its own for the follow streams, without a cap on open connections (one
    stream per container; the agent's client keeps its pool for short calls)."""
    if not host.startswith("unix://"):
        return Docker(url=host, connector=aiohttp.TCPConnector(limit=0))
    client = Docker(url=host, connector=aiohttp.UnixConnector(host[len("unix://"):], limit=0))
    client.docker_host = "unix://localhost"  # the socket is the connector's; a dummy host
    return client


class LogWatch:
    """Followers, rules, fingerprints and bursts of every watched deployment."""

    def __init__(self, config: LogsConfig, db: Database, *, host: str, catalog: Catalog,
                 observed: ObservedState, engine_now: Callable[[], float] = time.time,
                 on_change: OnChange | None = None,
                 redact: Callable[[str], str] = str,
                 on_health: Callable[[str], Coroutine[Any, Any, None]] | None = None) -> None:
        self.config = config
        self.tally = Tally(db, max_fingerprints=config.max_fingerprints, redact=redact)
        self.bursts = Bursts()
        self.on_change = on_change
        self.on_health = on_health  # a burst of an ``affects_health`` rule began or ended
        self._host = host
        self._catalog = catalog
        self._observed = observed
        self._engine_now = engine_now
        self._docker: aiodocker.Docker | None = None
        self._seen: dict[str, Seen] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._began = time.time()
        self._pruned = 0.0
        self._closing = False
        self.matched = 0

    # -- membership -------------------------------------------------------------------

    def sync(self) -> None:
        """Start a follower for each running container that has none (and may have one),
        and one more read of a stopped container that ran again since it was last read
        (a quick restart may end before the next look)."""
        if not self.config.enabled or self._closing:
            return
        now = time.monotonic()
        present = set()
        for name, deployment in self._catalog.deployments.items():
            for container in self._observed.for_project(deployment.project):
                if container.oneoff:
                    continue
                present.add(container.id)
                seen = self._seen.get(container.id)
                if not container.running:
                    if seen is not None and seen.read_start != container.started_at:
                        self._maybe_follow(seen, container.started_at, now)
                    continue
                if seen is None:
                    target = Target(container.id, name, container.service, container.name,
                                    container.started_at)
                    rules = rules_for(self.config, name, container.service, container.labels)
                    seen = self._seen[container.id] = Seen(target, rules)
                    if rules.problem:
                        log.warning("log rules of a service ignored", deployment=name,
                                    service=container.service, problem=rules.problem)
                self._maybe_follow(seen, container.started_at, now)
        for cid in [c for c, s in self._seen.items() if c not in present and s.task is None]:
            del self._seen[cid]
            self.tally.forget_container(cid)

    def _maybe_follow(self, seen: Seen, started_at: float | None, now: float) -> None:
        if not seen.rules.follow or (seen.task is not None and not seen.task.done()):
            return
        follower = seen.follower
        if follower is not None:
            self._save_cursor(follower)
            if follower.state is FollowState.UNREADABLE:
                return
            if now < seen.retry_at:
                return
        start = self._start_of(seen.target.container_id, started_at)
        follower = Follower(self.docker, seen.target, start, self.config, self._on_lines,
                            engine_now=self._engine_now)
        seen.follower, seen.retry_at, seen.read_start = follower, now + 1.0, started_at
        seen.task = asyncio.create_task(self._follow(seen, follower),
                                        name=f"logs {seen.target.name}")

    async def _follow(self, seen: Seen, follower: Follower) -> None:
        await follower.run()
        self._save_cursor(follower)
        if follower.state is FollowState.FAILED:
            seen.retry_at = time.monotonic() + RETRY_SECONDS
        seen.task = None

    def _start_of(self, container_id: str, started_at: float | None) -> Start:
        cursor = self.tally.cursor(container_id)
        if cursor is not None:
            return Start(cursor=cursor)
        if started_at is not None and started_at >= self._began - 1.0:
            return Start(beginning=True)  # it started after the watch began: read it all
        return Start()

    def _save_cursor(self, follower: Follower) -> None:
        cursor = follower.cursor
        if cursor is not None and cursor != self.tally.cursor(follower.target.container_id):
            self.tally.advance(follower.target.container_id, cursor)

    async def on_container_change(self, change: ContainerChanged) -> None:
        """A container started, stopped or changed: look at once (not at the next tick)."""
        if change.current is not None and change.current.running:
            self.sync()

    @property
    def docker(self) -> aiodocker.Docker:
        """The follow streams' client, made on first use."""
        if self._docker is None:
            self._docker = log_client(self._host)
        return self._docker

    # -- lines ------------------------------------------------------------------------

    def _on_lines(self, follower: Follower, lines: list[RawLine]) -> None:
        seen = self._seen.get(follower.target.container_id)
        if seen is None or not seen.rules.rules:
            return
        target = follower.target
        first_match = seen.rules.first_match
        for line in lines:
            rule = first_match(line.text)
            if rule is None:
                continue
            self.matched += 1
            key = fingerprint(line.text)
            wall = time.time()
            self.tally.count(target.deployment, key, rule=rule.name, service=target.service,
                             severity=rule.severity.value, line=line.text, at=wall)
            change = self.bursts.seen(target.deployment, key, rule, target.service,
                                      time.monotonic())
            if change is not None:
                self._tell(change, target.name, list(follower.recent))

    def _tell(self, change: Change, container: str, recent: list[str]) -> None:
        if self.on_change is not None:
            self._spawn(self.on_change(change, container, recent))
        if self.on_health is not None and change.burst.rule.affects_health:
            self._spawn(self.on_health(change.burst.deployment))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def health_problems(self, deployment: str) -> tuple[str, ...]:
        """What the firing ``affects_health`` rules of ``deployment`` say, for its verdict."""
        return tuple(sorted(
            f"rule {b.rule.name} firing for {b.service} (fingerprint {b.fingerprint})"
            for b in self.bursts.firing(deployment) if b.rule.affects_health))

    # -- upkeep -----------------------------------------------------------------------

    async def tick(self) -> None:
        """Resolve quiet bursts, follow new containers, write counts and positions."""
        for change in self.bursts.due(time.monotonic()):
            self._tell(change, change.burst.service, [])
        self.sync()
        self.flush()

    def flush(self) -> None:
        """Write what changed (counts, read positions); prune old fingerprints daily."""
        for seen in self._seen.values():
            if seen.follower is not None:
                self._save_cursor(seen.follower)
        now = time.time()
        self.tally.flush(now)
        if now - self._pruned > DAY:
            self._pruned = now
            self.tally.prune(self.config.retention_days * DAY, now)

    async def run(self) -> None:
        """Tick every second until cancelled."""
        while True:
            try:
                await self.tick()
            except Exception:  # one bad tick must not end the watch
                log.exception("log watch tick failed")
            await asyncio.sleep(min(1.0, self.config.flush_seconds))

    async def close(self) -> None:
        """Stop every follower, then write where each stopped; none starts after."""
        self._closing = True
        tasks = [s.task for s in self._seen.values() if s.task is not None]
        tasks += list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            self.flush()
        if self._docker is not None:
            await self._docker.close()
            await self._docker.connector.close()  # passed in, so not closed with the session
            self._docker = None

    # -- reading ----------------------------------------------------------------------

    def followers(self, deployment: str) -> list[dict[str, Any]]:
        """Each container's follow state, for the API and the dashboard."""
        rows = []
        for seen in self._seen.values():
            if seen.target.deployment != deployment:
                continue
            follower = seen.follower
            rows.append({
                "container": seen.target.name, "service": seen.target.service,
                "state": follower.state.value if follower else
                ("not followed" if not seen.rules.follow else FollowState.STARTING.value),
                "detail": follower.detail if follower else "",
                "lines": follower.lines if follower else 0,
                "cut_lines": follower.cut_lines if follower else 0,
                "gaps": follower.gaps if follower else 0,
                "rate": round(follower.rate, 1) if follower else 0.0,
                "tty": follower.tty if follower else None,
                "log_driver": follower.driver if follower else None,
                "rules": [c.rule.name for c in seen.rules.rules],
                "rules_problem": seen.rules.problem,
            })
        return sorted(rows, key=lambda r: str(r["container"]))

    def recent(self, deployment: str, seconds: float | None = None) -> list[dict[str, Any]]:
        """Fingerprints seen in the last ``seconds`` (default ``evidence_minutes``)."""
        span = self.config.evidence_minutes * 60 if seconds is None else seconds
        items = self.tally.top(deployment, limit=10, since=time.time() - span)
        return [i.as_dict() for i in items]

    def recent_lines(self, container_id: str) -> list[str]:
        """The container's last lines read (for triage)."""
        seen = self._seen.get(container_id)
        return list(seen.follower.recent) if seen and seen.follower else []

