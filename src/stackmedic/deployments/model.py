"""What the agent knows about one deployment's definition."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


class DeploymentKind(StrEnum):
    """Where a deployment was found."""

    FOLDER = "folder"
    ADOPTED = "adopted"


@dataclass
class ServiceSpec:
    """One service as the compose file defines it."""

    name: str
    image: str | None = None
    has_build: bool = False
    restart: str | None = None
    has_healthcheck: bool = False
    depends_on: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    scale: int = 1
    depends_conditions: dict[str, str] = field(default_factory=dict)
    network_mode: str | None = None
    ready_within: float = 0.0  # the healthcheck's start_period: how long it may take to be up

    @property
    def recover(self) -> bool:
        """False when the service opts out of recovery with ``stackmedic.recover=false``."""
        return self.labels.get("stackmedic.recover", "true").lower() not in ("false", "0", "no")


@dataclass
class Deployment:
    """A Compose project the agent looks after."""

    name: str
    project: str
    kind: DeploymentKind
    path: Path | None
    files: list[Path]
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    external_networks: list[str] = field(default_factory=list)
    network_names: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    fingerprint: str = ""

    @property
    def valid(self) -> bool:
        """Whether Compose accepted the definition."""
        return self.error is None

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the definition."""
        return {
            "name": self.name,
            "project": self.project,
            "kind": self.kind.value,
            "path": str(self.path) if self.path else None,
            "files": [str(f) for f in self.files],
            "valid": self.valid,
            "error": self.error,
            "services": sorted(self.services),
        }


def services_from_config(model: dict[str, Any]) -> dict[str, ServiceSpec]:
    """Read service specs out of ``compose config --format json`` output."""
    specs = {}
    for name, svc in (model.get("services") or {}).items():
        depends = svc.get("depends_on") or {}
        networks = svc.get("networks") or {}
        deploy = svc.get("deploy") or {}
        specs[name] = ServiceSpec(
            name=name,
            image=svc.get("image"),
            has_build="build" in svc,
            restart=svc.get("restart"),
            has_healthcheck=bool(svc.get("healthcheck"))
            and not (svc.get("healthcheck") or {}).get("disable", False),
            depends_on=sorted(depends) if isinstance(depends, dict) else list(depends),
            networks=sorted(networks) if isinstance(networks, dict) else list(networks),
            labels={str(k): str(v) for k, v in (svc.get("labels") or {}).items()},
            scale=int(svc.get("scale") or deploy.get("replicas") or 1),
            depends_conditions={
                str(k): str((v or {}).get("condition") or "service_started")
                for k, v in depends.items()
            } if isinstance(depends, dict) else {},
            network_mode=svc.get("network_mode"),
            ready_within=_start_period(svc.get("healthcheck")),
        )
    return specs


def network_names_from_config(model: dict[str, Any]) -> dict[str, str]:
    """The engine's name of each network, by its key in the compose file."""
    return {key: (net or {}).get("name") or key
            for key, net in (model.get("networks") or {}).items()}


def external_networks_from_config(model: dict[str, Any]) -> list[str]:
    """Names of the external networks the project needs."""
    names = []
    for key, net in (model.get("networks") or {}).items():
        if net and net.get("external"):
            names.append(net.get("name") or key)
    return sorted(names)


def _start_period(healthcheck: Any) -> float:
    """The healthcheck's ``start_period`` in seconds (0 without one)."""
    if not isinstance(healthcheck, dict) or healthcheck.get("disable"):
        return 0.0
    return go_duration(healthcheck.get("start_period"))


def go_duration(value: object) -> float:
    """Seconds of a Go duration as Compose prints it (``1m30s``, ``500ms``); 0 if unreadable.

    Compose's JSON gives healthcheck durations as strings, or as nanoseconds in some
    versions.
    """
    if isinstance(value, int | float):
        return float(value) / 1e9
    if not isinstance(value, str):
        return 0.0
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(value))
