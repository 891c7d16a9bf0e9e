"""What Docker itself still brings back after a host or daemon restart.

At start the daemon restarts the containers whose restart policy asks for it (engine
20.10, ``restartmanager.ShouldRestart``): ``always`` (even after a person's stop),
``unless-stopped`` unless a person stopped it, ``on-failure`` after a non-zero exit. It does
so before its API first answers, so a restart reconcile waits only while such a container
is not running yet and acts at once on the rest, which nothing else will start.

behaviour: reboot-policy-comes-back, reboot-no-policy-started-at-once
"""

from __future__ import annotations

from collections.abc import Iterable

from stackmedic.observe.containers import ContainerState


def docker_restarts(container: ContainerState) -> bool:
    """Whether the daemon's restart policy is (still) bringing this container back."""
    if container.running or container.oneoff:
        return False
    if container.status == "restarting":
        return True
    policy = container.restart_policy
    if policy in ("always", "unless-stopped"):
        return container.status in ("exited", "created")
    if policy == "on-failure":
        return container.status == "exited" and container.exit_code not in (None, 0)
    return False


def awaiting_docker(containers: Iterable[ContainerState]) -> list[str]:
    """Services with a container Docker's restart policy has yet to bring back."""
    return sorted({c.service for c in containers if docker_restarts(c)})
