"""The five cgroup v2 set-ups the test VM runs, how to reach each one's engine, and how its
cgroup files are recorded (imported by the host side too, for the set-ups' names)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TESTS))

from support.images import IMPORT_CHANGES, busybox_image_name, busybox_rootfs_tar  # noqa: E402

USER, UID = "runner", 1000
USER_ENV = {"XDG_RUNTIME_DIR": f"/run/user/{UID}",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path=/run/user/{UID}/bus"}


@dataclass(frozen=True)
class Setup:
    """One engine set-up: what the host report must say of it and where its socket is."""

    name: str
    kind: str  # docker or podman
    rootless: bool
    driver: str
    socket: str
    fixture: str  # the folder under tests/resources/fixtures its recording replaces
    # Where its containers' cgroups live ({id} is the full container id).
    cgroup: str

    @property
    def host(self) -> str:
        """DOCKER_HOST for this engine."""
        return f"unix://{self.socket}"

    def as_user(self, argv: list[str]) -> list[str]:
        """``argv`` run as the engine's user (the rootless user, or root)."""
        if not self.rootless:
            return argv
        env = [f"{k}={v}" for k, v in USER_ENV.items()]
        return ["runuser", "-u", USER, "--", "env", *env, *argv]

    def cli(self, *args: str) -> list[str]:
        """The engine's own command line with ``args``."""
        if self.kind == "podman":
            return self.as_user(["podman", *args])
        return ["docker", "-H", self.host, *args]


USER_SLICE = f"user.slice/user-{UID}.slice/user@{UID}.service/user.slice"
SETUPS = {s.name: s for s in (
    Setup("docker-systemd", "docker", False, "systemd", "/run/docker.sock",
          "cgroup2-systemd-docker", "system.slice/docker-{id}.scope"),
    Setup("docker-cgroupfs", "docker", False, "cgroupfs", "/run/docker.sock",
          "cgroup2-cgroupfs-docker", "docker/{id}"),
    Setup("docker-rootless", "docker", True, "systemd", f"/run/user/{UID}/docker.sock",
          "cgroup2-rootless-docker", USER_SLICE + "/docker-{id}.scope"),
    Setup("podman-systemd", "podman", False, "systemd", "/run/podman/podman.sock",
          "cgroup2-systemd-podman", "machine.slice/libpod-{id}.scope"),
    Setup("podman-rootless", "podman", True, "systemd", f"/run/user/{UID}/podman/podman.sock",
          "cgroup2-rootless-podman", USER_SLICE + "/libpod-{id}.scope"),
)}


def run(argv: list[str], stdin: bytes | None = None) -> str:
    """Run ``argv``; its stdout, or an error naming the command and what it said."""
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def load_image(setup: Setup) -> str:
    """Import the offline busybox test image into the set-up's engine."""
    name = busybox_image_name()
    changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
    run(setup.cli("import", *changes, "-", name), stdin=busybox_rootfs_tar())
    return name


def record(setup: Setup, container: str, out: Path, note: str) -> Path:
    """Record ``container``'s cgroup files with ``scripts/capture-cgroup-fixture``, run as
    the engine's user, into ``out/fixtures/<fixture>``."""
    scratch = Path(f"/tmp/capture/{setup.fixture}")
    run(["rm", "-rf", str(scratch.parent)])
    scratch.parent.mkdir()
    scratch.parent.chmod(0o777)
    run(setup.as_user(["python3", str(TESTS.parent / "scripts/capture-cgroup-fixture"),
                       container, str(scratch), "--socket", setup.socket, "--note", note]))
    target = out / "fixtures" / setup.fixture
    run(["rm", "-rf", str(target)])
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["cp", "-r", str(scratch), str(target)])
    return target
