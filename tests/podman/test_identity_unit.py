"""The engine's identity from Podman 4.3's answers (trimmed from this machine's services)."""

from __future__ import annotations

from stackmedic.engine.identity import EngineKind, identify

PODMAN_VERSION = {
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [{"Name": "Podman Engine", "Version": "4.3.1"},
                   {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown"}],
    "Version": "4.3.1", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
}
ROOTFUL_INFO = {"CgroupVersion": "1", "CgroupDriver": "cgroupfs", "OperatingSystem": "debian",
                "SecurityOptions": ["name=seccomp,profile=default"]}
ROOTLESS_INFO = {**ROOTFUL_INFO, "Rootless": True}


def test_podman_rootful_and_rootless_are_told_apart() -> None:
    rootful = identify(ROOTFUL_INFO, PODMAN_VERSION)
    assert (rootful.kind, rootful.version, rootful.api_version) == (
        EngineKind.PODMAN, "4.3.1", "1.41")
    assert rootful.rootless is False
    assert (rootful.cgroup_version, rootful.cgroup_driver) == ("1", "cgroupfs")
    # Podman 4.3 does not name rootless in SecurityOptions; its own field says so.
    assert identify(ROOTLESS_INFO, PODMAN_VERSION).rootless is True


def test_docker_is_not_taken_for_podman() -> None:
    docker = identify({"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]},
                      {"Platform": {"Name": "Docker Engine - Community"}, "Version": "20.10.24",
                       "Components": [{"Name": "Engine", "Version": "20.10.24"}]})
    assert (docker.kind, docker.rootless) == (EngineKind.DOCKER, True)
