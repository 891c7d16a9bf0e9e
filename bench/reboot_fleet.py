"""The reboot benchmark's deployments (mixed Compose kinds) and Docker's own view of them."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from support import zoo
from support.deployments import Deployment, DeploymentFactory, service

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
SLOW_DELAYS = (4, 8, 12)
"""Seconds until a slow starter is ready; its `start_period` is the same, so the slowest
one is the physical floor of any method."""


@dataclass(frozen=True)
class Expect:
    """What Docker's records must say of one service for its deployment to count as up."""

    job: bool = False
    """A one-shot job: exited 0 (else: running)."""
    healthcheck: bool = False
    """Running is not enough: Docker's healthcheck must say healthy."""
    policy: bool = False
    """Has a restart policy that brings it back at boot by Docker's hand."""


@dataclass
class Member:
    """One deployment of the fleet."""

    deployment: Deployment
    kind: str
    expects: dict[str, Expect]
    parked: bool
    start_period: float
    """The slowest `start_period` among its services (0 without one)."""

    @property
    def name(self) -> str:
        """Folder, project and stackmedic name."""
        return self.deployment.name


def _slow(delay: int, **extra: Any) -> dict[str, Any]:
    """A slow starter whose `start_period` is the time it needs to be ready."""
    spec = zoo.slow_starter(delay=delay, **extra)
    spec["healthcheck"] = {**spec["healthcheck"], "start_period": f"{delay}s"}
    return spec


KINDS = ("plain", "unless-stopped", "graceful", "slow", "depends-healthy", "sidecar", "job")


def kind_services(kind: str, index: int) -> tuple[dict[str, dict[str, Any]], dict[str, Expect]]:
    """Compose services of one `kind` and what each must be in Docker's records."""
    serve, healthy, job = Expect(), Expect(healthcheck=True), Expect(job=True)
    kept, kept_healthy = Expect(policy=True), Expect(healthcheck=True, policy=True)
    if kind == "plain":
        return {"app": service("sleep 86400")}, {"app": serve}
    if kind == "unless-stopped":
        return {"app": zoo.graceful(restart="unless-stopped")}, {"app": kept}
    if kind == "graceful":
        # The worker dies of SIGTERM (143): Docker itself restarts it at boot (on-failure).
        return ({"web": zoo.graceful(), "worker": zoo.exits_143(restart="on-failure")},
                {"web": serve, "worker": kept})
    if kind == "slow":
        delay = SLOW_DELAYS[(index // len(KINDS)) % len(SLOW_DELAYS)]
        return {"app": _slow(delay)}, {"app": healthy}
    if kind == "depends-healthy":
        app = zoo.graceful(depends_on={"db": {"condition": "service_healthy"}})
        return {"db": _slow(2, restart="always"), "app": app}, {"db": kept_healthy, "app": serve}
    if kind == "sidecar":
        return ({"main": zoo.graceful(), "side": zoo.sidecar(of="main")},
                {"main": serve, "side": serve})
    if kind == "job":
        return ({"migrate": zoo.migration(), "app": zoo.after_migration("migrate")},
                {"migrate": job, "app": serve})
    raise ValueError(f"unknown kind {kind!r}")


def _start_period(services: Mapping[str, Mapping[str, Any]]) -> float:
    periods = [float(str(s["healthcheck"]["start_period"]).rstrip("s"))
               for s in services.values() if "healthcheck" in s]
    return max(periods, default=0.0)


def parked_indexes(count: int) -> set[int]:
    """Every tenth deployment is stopped on purpose (at least one, unless it is the only
    one: then there would be nothing to bring back)."""
    return {i for i in range(count) if i % 10 == 9} or ({count - 1} if count > 1 else set())


def make_fleet(factory: DeploymentFactory, count: int) -> list[Member]:
    """`count` deployments cycling through the kinds; folder names sort in creation order."""
    parked = parked_indexes(count)
    members = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        services, expects = kind_services(kind, index)
        deployment = factory.make(f"{index:03d}-{kind}", services)
        members.append(Member(deployment, kind, expects, index in parked,
                              _start_period(services)))
    return members


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class Engine:
    """Read-only calls to the Docker Engine API over its unix socket."""

    def __init__(self, host: str, timeout: float = 30) -> None:
        self.path = host.removeprefix("unix://")
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """GET a JSON answer; RuntimeError on a non-200 status."""
        conn = _UnixConnection(self.path, self.timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        return json.loads(body)

    def containers(self) -> list[dict[str, Any]]:
        """Every Compose container (`docker ps --all`), with state and status."""
        filters = urllib.parse.quote(json.dumps({"label": [PROJECT]}))
        rows: list[dict[str, Any]] = self.get(f"/containers/json?all=1&filters={filters}")
        return rows

    def inspect(self, ident: str) -> dict[str, Any]:
        """`docker inspect` of one container."""
        found: dict[str, Any] = self.get(f"/containers/{ident}/json")
        return found


def by_project(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Rows grouped by project, then service."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        labels = row.get("Labels") or {}
        grouped.setdefault(labels.get(PROJECT, ""), {})[labels.get(SERVICE, "")] = row
    return grouped


def row_up(row: dict[str, Any] | None, expect: Expect) -> bool:
    """Whether one `docker ps` row shows the service as it must be."""
    if row is None:
        return False
    status = str(row.get("Status", ""))
    if expect.job:
        return row.get("State") == "exited" and status.startswith("Exited (0)")
    if row.get("State") != "running":
        return False
    return "(healthy)" in status if expect.healthcheck else True


def inspected_up(state: dict[str, Any], expect: Expect) -> bool:
    """Whether `docker inspect`'s State shows the service as it must be."""
    if expect.job:
        return state.get("Status") == "exited" and state.get("ExitCode") == 0
    if not state.get("Running"):
        return False
    return (state.get("Health") or {}).get("Status") == "healthy" if expect.healthcheck \
        else True


def member_up(member: Member, services: dict[str, dict[str, Any]]) -> bool:
    """Whether the `docker ps` rows of one project show every service as it must be."""
    return all(row_up(services.get(name), e) for name, e in member.expects.items())


def confirm_up(engine: Engine, members: list[Member],
               grouped: dict[str, dict[str, dict[str, Any]]]) -> bool:
    """`docker inspect` every container of `members`: all as they must be?"""
    for member in members:
        services = grouped.get(member.name, {})
        for name, expect in member.expects.items():
            row = services.get(name)
            if row is None or not inspected_up(engine.inspect(row["Id"])["State"], expect):
                return False
    return True


def started_since(engine: Engine, member: Member, wall: float) -> list[str]:
    """Services of `member` running or started at or after `wall`, with their restart
    policy (`always` brings a container back at every daemon start, even one stopped by
    hand: Docker's doing, not the method's)."""
    found = []
    for name, row in sorted(by_project(engine.containers()).get(member.name, {}).items()):
        info = engine.inspect(row["Id"])
        state = info["State"]
        if state.get("Running") or docker_time(str(state.get("StartedAt", ""))) >= wall:
            policy = (info["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"
            now = "running" if state.get("Running") else "exited"
            found.append(f"{name} (restart: {policy}, {now})")
    return found


def docker_time(text: str) -> float:
    """A Docker RFC 3339 timestamp (nanoseconds, `Z`) as seconds since the epoch."""
    if not text or text.startswith("0001-"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + frac) if frac else 0.0)
