"""Evidence about an ill deployment: what a person would look at before acting."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from stackmedic.deployments.model import Deployment
from stackmedic.health.model import DeploymentHealth, ServiceStatus
from stackmedic.observe.containers import ContainerState


@dataclass
class ServiceEvidence:
    """What is known about one service."""

    name: str
    status: str
    desired: str | None
    recover: bool
    image: str | None
    image_present: bool | None
    has_build: bool
    restart_policy: str | None
    has_healthcheck: bool
    exit_code: int | None = None
    exit_codes: list[int] = field(default_factory=list)
    oom_killed: bool = False
    oom_kills_recent: int = 0
    restart_count: int = 0
    health_output: str | None = None
    drifted: bool = False
    depends_on: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)
    memory_trend: list[tuple[float, int]] = field(default_factory=list)
    running: bool = False  # every container runs and none is unhealthy
    docker_restarts: bool = False  # Docker's restart policy is restarting its containers
    network_mode: str | None = None

    @property
    def problem(self) -> bool:
        """Whether this service needs attention (and may be acted on)."""
        return self.status not in {
            ServiceStatus.RUNNING.value, ServiceStatus.STARTING.value,
            ServiceStatus.COMPLETED.value, ServiceStatus.STOPPED.value,
        } and self.desired != "stopped"


@dataclass
class Evidence:
    """Everything the diagnosis looks at for one deployment."""

    deployment: str
    project: str
    verdict: str
    reason: str
    compose_valid: bool
    compose_error: str | None
    services: dict[str, ServiceEvidence]
    external_networks: list[str]
    missing_networks: list[str]
    docker_reachable: bool = True
    recreated_networks: list[str] = field(default_factory=list)

    def problem_services(self) -> list[ServiceEvidence]:
        """Services that need attention, in dependency order."""
        ordered = dependency_order(
            {name: s.depends_on for name, s in self.services.items()}
        )
        return [self.services[n] for n in ordered if self.services[n].problem]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for storage and the optional LLM adviser)."""
        data = asdict(self)
        for service in data["services"].values():
            service["memory_trend"] = service["memory_trend"][-20:]
        return data


def shares_namespace(network_mode: str | None) -> bool:
    """Whether a service joins another container's network namespace."""
    return bool(network_mode) and str(network_mode).startswith(("service:", "container:"))


def dependency_order(depends: dict[str, list[str]]) -> list[str]:
    """Services ordered so that each comes after what it depends on (cycles keep name order)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting or name not in depends:
            return
        visiting.add(name)
        for dependency in sorted(depends[name]):
            visit(dependency)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(depends):
        visit(name)
    return ordered


def service_evidence(
    deployment: Deployment,
    health: DeploymentHealth | None,
    containers: list[ContainerState],
    *,
    images_present: dict[str, bool],
    desired: dict[str, str | None],
    expected_hashes: dict[str, str],
    network_names: dict[str, str] | None = None,
) -> dict[str, ServiceEvidence]:
    """Per-service evidence from the definition, the verdict and the containers."""
    network_names = network_names or {}
    result = {}
    names = set(deployment.services) | {c.service for c in containers}
    for name in sorted(names):
        spec = deployment.services.get(name)
        mine = [c for c in containers if c.service == name]
        verdict = health.service(name) if health else None
        # A build-only service has no image in its definition: its containers name the one
        # Compose built (``project-service``), which Compose rebuilds when it is missing.
        image = (spec.image if spec else None) or (mine[0].image if mine else None) or (
            f"{deployment.project}-{name}" if spec and spec.has_build else None)
        # Compose hashes a namespace-sharing service after putting the joined container's
        # id into its network mode, so `config --hash` never matches its label.
        expected = None if spec and shares_namespace(spec.network_mode) \
            else expected_hashes.get(name)
        drifted = bool(expected) and any(
            c.config_hash and c.config_hash != expected for c in mine
        )
        result[name] = ServiceEvidence(
            name=name,
            status=verdict.status.value if verdict else ("missing" if not mine else "unknown"),
            desired=desired.get(name),
            recover=spec.recover if spec else True,
            image=image,
            image_present=images_present.get(image) if image else None,
            has_build=spec.has_build if spec else False,
            restart_policy=spec.restart if spec else None,
            has_healthcheck=spec.has_healthcheck if spec else False,
            exit_code=verdict.exit_code if verdict else None,
            exit_codes=list(verdict.exit_codes) if verdict else [],
            # A restart policy clears the flag as it starts the container again; the
            # verdict's crash loop remembers the kills.
            oom_killed=any(c.oom_killed for c in mine) or bool(verdict and verdict.oom_killed),
            restart_count=max((c.restart_count for c in mine), default=0),
            health_output=verdict.health_output if verdict else None,
            drifted=drifted,
            depends_on=list(spec.depends_on) if spec else [],
            networks=[network_names.get(n, n) for n in spec.networks] if spec else [],
            running=bool(mine) and all(c.running and c.health != "unhealthy" for c in mine),
            network_mode=spec.network_mode if spec else None,
            docker_restarts=any(c.restarted_by_policy for c in mine),
        )
    return result
