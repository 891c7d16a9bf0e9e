"""Write Compose deployments into a temp deployments folder and drive them with compose."""

from __future__ import annotations

import copy
import json
import re
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .compose import run_compose, run_docker

PROJECT_LABEL = "com.docker.compose.project"
LOOPBACK = "127.0.0.1"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

ServiceSpec = Mapping[str, Any]


def _loopback_port(spec: Any) -> Any:
    """Rewrite one `ports:` entry so it publishes on 127.0.0.1 only."""
    if isinstance(spec, Mapping):
        entry = dict(spec)
        host_ip = entry.setdefault("host_ip", LOOPBACK)
        if host_ip != LOOPBACK:
            raise ValueError(f"ports must publish on {LOOPBACK} only, got {spec!r}")
        return entry
    text = str(spec)
    parts = text.split(":")
    if len(parts) == 1:
        return f"{LOOPBACK}::{text}"
    if len(parts) == 2:
        return f"{LOOPBACK}:{text}"
    if parts[0] != LOOPBACK:
        raise ValueError(f"ports must publish on {LOOPBACK} only, got {spec!r}")
    return text


def prepare_services(services: Mapping[str, ServiceSpec], image: str) -> dict[str, Any]:
    """Fill in test defaults: busybox image, `init: true`, string command, loopback ports."""
    prepared: dict[str, Any] = {}
    for name, spec in services.items():
        svc = copy.deepcopy(dict(spec))
        if "image" not in svc and "build" not in svc:
            svc["image"] = image
        svc.setdefault("init", True)
        if isinstance(svc.get("command"), str):
            svc["command"] = [svc["command"]]
        if "ports" in svc:
            svc["ports"] = [_loopback_port(p) for p in svc["ports"]]
        prepared[name] = svc
    return prepared


def _parse_ps(stdout: str) -> list[dict[str, Any]]:
    text = stdout.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class Deployment:
    """One Compose project living in its own folder; folder name == project name."""

    name: str
    path: Path
    compose_file: Path
    docker_host: str | None = None

    def compose(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run `docker compose -p NAME ARGS...` in the deployment folder."""
        return run_compose(
            self.path,
            *args,
            project_name=self.name,
            docker_host=self.docker_host,
            check=check,
            timeout=timeout,
        )

    def up(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """`compose up -d` (plus extra args such as `--wait` or service names)."""
        return self.compose("up", "-d", *args, timeout=timeout)

    def start(self, *services: str) -> subprocess.CompletedProcess[str]:
        """`compose start` for all or the given services."""
        return self.compose("start", *services)

    def stop(self, *services: str, timeout: int | None = None) -> subprocess.CompletedProcess[str]:
        """`compose stop` (optionally with a stop timeout in seconds)."""
        extra = ["--timeout", str(timeout)] if timeout is not None else []
        return self.compose("stop", *extra, *services)

    def down(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`compose down` with extra args (e.g. `-v`, `--remove-orphans`)."""
        return self.compose("down", *args)

    def ps(self) -> list[dict[str, Any]]:
        """All containers of the project (running or not) as compose's JSON rows."""
        return _parse_ps(self.compose("ps", "--all", "--format", "json").stdout)

    def states(self) -> dict[str, str]:
        """Map service name to container state (`running`, `exited`, ...), one container each."""
        return {row["Service"]: row["State"] for row in self.ps()}

    def container_ids(self) -> list[str]:
        """IDs of every container carrying this project's label."""
        out = run_docker(
            "ps",
            "--all",
            "--quiet",
            "--no-trunc",
            "--filter",
            f"label={PROJECT_LABEL}={self.name}",
            docker_host=self.docker_host,
        ).stdout
        return out.split()

    def port(self, service: str, container_port: int, protocol: str = "tcp") -> int:
        """Host port on 127.0.0.1 that `service`'s `container_port` is published on."""
        out = self.compose("port", "--protocol", protocol, service, str(container_port)).stdout
        return int(out.strip().rsplit(":", 1)[1])

    def write(self, content: Mapping[str, Any] | str) -> None:
        """Replace the compose file with a full document (mapping) or raw YAML text."""
        text = content if isinstance(content, str) else yaml.safe_dump(dict(content))
        self.compose_file.write_text(text)


@dataclass
class DeploymentFactory:
    """Creates deployments under `root` with unique project names and removes them afterwards."""

    root: Path
    image: str
    docker_host: str | None = None
    prefix: str = field(default_factory=lambda: f"smt{secrets.token_hex(4)}")
    made: list[Deployment] = field(default_factory=list)

    def project_name(self, name: str) -> str:
        """The unique project (and folder) name used for deployment `name`."""
        if not _NAME_RE.match(name):
            raise ValueError(f"deployment name {name!r} must match {_NAME_RE.pattern}")
        return f"{self.prefix}-{name}"

    def make(
        self,
        name: str,
        services: Mapping[str, ServiceSpec] | str | None = None,
        *,
        filename: str = "compose.yaml",
        top_level: Mapping[str, Any] | None = None,
        files: Mapping[str, str | bytes] | None = None,
    ) -> Deployment:
        """Write a deployment folder holding `filename` (from services or raw YAML) and `files`."""
        project = self.project_name(name)
        folder = self.root / project
        folder.mkdir(parents=True, exist_ok=False)
        if isinstance(services, str):
            text = services
        else:
            doc: dict[str, Any] = {"services": prepare_services(services or {}, self.image)}
            doc.update(top_level or {})
            text = yaml.safe_dump(doc, sort_keys=False)
        compose_file = folder / filename
        compose_file.write_text(text)
        for rel, content in (files or {}).items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        deployment = Deployment(project, folder, compose_file, self.docker_host)
        self.made.append(deployment)
        return deployment

    def _labelled(self, kind: str, key: str, *extra: str) -> dict[str, str]:
        """Map object id to project for `kind` objects whose project has our prefix."""
        fmt = f'{{{{.{key}}}}}\t{{{{.Label "{PROJECT_LABEL}"}}}}'
        out = run_docker(
            kind,
            "ls",
            *extra,
            "--filter",
            f"label={PROJECT_LABEL}",
            "--format",
            fmt,
            docker_host=self.docker_host,
            check=False,
        ).stdout
        found: dict[str, str] = {}
        for line in out.splitlines():
            ident, _, project = line.partition("\t")
            if project.startswith(f"{self.prefix}-"):
                found[ident] = project
        return found

    def leftovers(self) -> dict[str, dict[str, str]]:
        """Containers, networks and volumes still labelled with one of our projects."""
        return {
            "containers": self._labelled("container", "ID", "--all"),
            "networks": self._labelled("network", "ID"),
            "volumes": self._labelled("volume", "Name"),
        }

    def cleanup(self) -> None:
        """Remove every container, network, volume and built image of our projects."""
        found = self.leftovers()
        projects = {d.name for d in self.made}
        for objects in found.values():
            projects.update(objects.values())
        for project in sorted(projects):
            run_compose(
                "/",
                "down",
                "--volumes",
                "--remove-orphans",
                "--timeout",
                "0",
                project_name=project,
                docker_host=self.docker_host,
                check=False,
            )
        found = self.leftovers()
        host = self.docker_host
        if found["containers"]:
            run_docker(
                "rm", "--force", "--volumes", *found["containers"], docker_host=host, check=False
            )
        if found["networks"]:
            run_docker("network", "rm", *found["networks"], docker_host=host, check=False)
        if found["volumes"]:
            run_docker("volume", "rm", "--force", *found["volumes"], docker_host=host, check=False)
        for project in sorted(projects):
            images = run_docker(
                "image",
                "ls",
                "--quiet",
                "--filter",
                f"label={PROJECT_LABEL}={project}",
                docker_host=host,
                check=False,
            ).stdout.split()
            if images:
                run_docker(
                    "image", "rm", "--force", *sorted(set(images)), docker_host=host, check=False
                )


def service(command: str | Sequence[str] | None = None, **spec: Any) -> dict[str, Any]:
    """Shorthand for a service mapping: `service("sleep 3600", ports=[80])`."""
    if command is not None:
        spec["command"] = [command] if isinstance(command, str) else list(command)
    return spec
