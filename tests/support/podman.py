"""A private rootful ``podman system service`` for the Podman variant of the end-to-end tests.

It never touches the host's own Podman or Docker state:
- its own storage (``--root``/``--runroot`` through a private ``storage.conf``) and engine
  settings (a private ``containers.conf``: cgroupfs, the ``file`` events backend since
  there is no journald, file locks under its own tmp dir, netavark with its own config
  dir), passed to every podman process through CONTAINERS_STORAGE_CONF / CONTAINERS_CONF;
- its own network namespace (entered with nsenter), so netavark's bridges and firewall
  rules live there and not beside the main Docker daemon's;
- its own socket, which the agent and Compose reach from the host namespace.

Measured with Debian's podman 4.3.1 in a Firecracker VM: runc refuses the default
``nofile``/``nproc`` limits podman asks for (1048576, above this process's hard limit), so
the containers get this process's own limits. Rootful podman keeps each container's network
namespace under ``/run/netns`` and runc its state under ``/run/runc``; the kit removes
what its containers leave there.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .compose import docker_env, run_docker
from .dockerd import _pid_alive, _pids_mentioning, ping_unix
from .images import IMPORT_CHANGES, busybox_rootfs_tar
from .private_home import claim, ensure_netns, find_tool, mountpoints_under, orphans
from .wait import wait_until

DIR_PREFIX = "smp-"
NETNS_RUN_DIR = Path("/run/netns")
CATATONIT = "/usr/libexec/podman/catatonit"
RUNC_STATE = Path("/run/runc")


class PodmanError(RuntimeError):
    """The private podman service failed to start or stop."""


def _find(name: str) -> str:
    return find_tool(name, PodmanError)


def _limit(kind: int) -> int:
    soft, hard = resource.getrlimit(kind)
    return soft if hard == resource.RLIM_INFINITY else min(soft, hard) if soft > 0 else hard


class PrivatePodman:
    """A rootful podman API service of our own under a short /tmp/smp-XXXX folder."""

    prefix = DIR_PREFIX

    def __init__(self, *, base: Path | None = None, _existing: Path | None = None) -> None:
        self.dir = _existing or Path(tempfile.mkdtemp(prefix=self.prefix, dir=str(base or "/tmp")))
        self.root = self.dir / "root"
        self.runroot = self.dir / "runroot"
        self.tmp = self.dir / "tmp"
        self.socket_path = self.dir / "podman.sock"
        self.netns = self.dir / "netns"
        self.log_path = self.dir / "service.log"
        self.storage_conf = self.dir / "storage.conf"
        self.containers_conf = self.dir / "containers.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        if _existing is None:
            self._write_config()
            claim(self.dir)

    def _write_config(self) -> None:
        for folder in (self.root, self.runroot, self.tmp, self.dir / "networks"):
            folder.mkdir(parents=True, exist_ok=True)
        self.storage_conf.write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{self.runroot}"\n'
            f'graphroot = "{self.root}"\n'
        )
        nofile = _limit(resource.RLIMIT_NOFILE)
        # podman lowers its own nproc limit to 32768 (read in /proc/PID/limits of the
        # service); a container may not ask for more than its runtime has.
        nproc = min(_limit(resource.RLIMIT_NPROC), 32768)
        self.containers_conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            + "[network]\n"
            'network_backend = "netavark"\n'
            f'network_config_dir = "{self.dir / "networks"}"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'runtime = "runc"\n'
            'lock_type = "file"\n'
            f'tmp_dir = "{self.tmp}"\n'
            f'volume_path = "{self.root / "volumes"}"\n'
            f'static_dir = "{self.root / "libpod"}"\n'
        )

    @classmethod
    def sweep_orphans(cls, base: Path = Path("/tmp")) -> list[Path]:
        """Tear down private services whose owning process is gone (a killed test run)."""
        swept = []
        for folder in orphans(base, cls.prefix):
            with contextlib.suppress(OSError):
                cls(_existing=folder).teardown()
                swept.append(folder)
        return swept

    @property
    def host(self) -> str:
        """The service's ``unix://...`` URL, for DOCKER_HOST or an API client."""
        return f"unix://{self.socket_path}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for podman, docker and compose subprocesses aimed at this service."""
        return docker_env(self.host, {
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
        })

    def _ensure_netns(self) -> None:
        ensure_netns(self.dir, self.netns)

    def _command(self, *args: str) -> list[str]:
        """A podman command line run in this service's network namespace."""
        self._ensure_netns()
        return [_find("nsenter"), f"--net={self.netns}", _find("podman"), *args]

    def podman(self, *args: str, check: bool = True, timeout: float = 120.0,
               input_bytes: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run the podman CLI against this service's storage, as the service runs."""
        cmd = self._command(*args)
        result = subprocess.run(cmd, env=self.env, input=input_bytes, capture_output=True,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise PodmanError(f"podman {' '.join(args)} exited {result.returncode}: "
                              f"{result.stderr.decode(errors='replace')[-2000:]}")
        return result

    def docker(self, *args: str, check: bool = True,
               timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this service's compatible API."""
        return run_docker(*args, docker_host=self.host, check=check, timeout=timeout)

    def ping(self) -> bool:
        """True when the service answers ``/_ping``."""
        return ping_unix(self.socket_path)

    @property
    def pid(self) -> int | None:
        """The service process, when this kit started it and it lives."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    def start(self, timeout: float = 60.0) -> None:
        """Start ``podman system service`` (no idle exit) and wait until it answers."""
        if self.pid is not None and self.ping():
            return
        self.socket_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._command("system", "service", "--time=0", self.host),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )
        proc = self._proc

        def ready_or_dead() -> str | None:
            if proc.poll() is not None:
                return "dead"
            return "ready" if self.ping() else None

        state = wait_until(ready_or_dead, timeout, message=f"podman answering on {self.host}")
        if state == "dead":
            raise PodmanError(f"podman system service exited {proc.returncode}:\n"
                              f"{self.log_path.read_text(errors='replace')[-2000:]}")

    def stop(self, timeout: float = 30.0) -> None:
        """End the service as an idle socket-activated one ends: its containers run on."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def load_image(self, name: str) -> None:
        """Import the offline busybox image as ``name`` (podman stores it as localhost/...)."""
        changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
        self.podman("import", *changes, "-", name, input_bytes=busybox_rootfs_tar())

    def _sandboxes(self, ids: list[str]) -> list[str]:
        """Network namespace files of this service's containers under /run/netns."""
        if not ids:
            return []
        keys = self.podman("inspect", "--format", "{{.NetworkSettings.SandboxKey}}",
                           *ids, check=False).stdout.decode().split()
        return [k for k in keys if k.startswith(str(NETNS_RUN_DIR) + "/")]

    def _container_ids(self) -> list[str]:
        out = self.podman("ps", "--all", "--no-trunc", "--format", "{{.ID}}", check=False)
        return out.stdout.decode().split()

    def _kill_containers(self, ids: list[str]) -> None:
        """SIGKILL every conmon and container process of this service (power-off style)."""
        pids = [p for p in _pids_mentioning(str(self.dir) + "/") if p != self.pid]
        for cid in ids:
            with contextlib.suppress(OSError, ValueError):
                tasks = Path(f"/sys/fs/cgroup/pids/libpod_parent/libpod-{cid}/tasks")
                pids.extend(int(t) for t in tasks.read_text().split())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(_pid_alive(p) for p in pids), 20,
                   message="podman container processes gone")

    def _release(self, sandboxes: list[str], ids: list[str]) -> None:
        for cid in ids:  # runc keeps rootful state in /run/runc, which a reboot empties
            shutil.rmtree(RUNC_STATE / cid, ignore_errors=True)
        for key in sandboxes:
            subprocess.run([_find("umount"), "-l", key], capture_output=True, check=False)
            Path(key).unlink(missing_ok=True)
        for point in mountpoints_under(self.root):
            subprocess.run([_find("umount"), "-l", point], capture_output=True, check=False)

    def reboot(self, boot_id: Path, new_boot_id: str) -> None:
        """A simulated host reboot: service and containers gone, /run wiped, a new boot id.

        What a reboot leaves of rootful podman is its storage; its run and tmp dirs are on
        tmpfs, so podman refreshes its state on the next start (running containers read
        ``created`` then) and, without ``podman-restart.service``, starts nothing itself.
        """
        ids = self._container_ids()
        sandboxes = self._sandboxes(ids)
        self.stop()
        self._kill_containers(ids)
        self._release(sandboxes, ids)
        for folder in (self.runroot, self.tmp):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        boot_id.write_text(new_boot_id + "\n")
        self.start()

    def restart_policies(self) -> None:
        """What ``podman-restart.service`` does at boot: start restart-policy=always ones."""
        self.podman("start", "--all", "--filter", "restart-policy=always")

    def teardown(self) -> None:
        """Remove every container, stop the service, unmount and delete the folder."""
        try:
            ids = self._container_ids() if self.containers_conf.exists() else []
            sandboxes = self._sandboxes(ids)
            if ids:
                self.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
            self.stop()
            self._kill_containers(ids)
            self._release(sandboxes, ids)
        finally:
            for point in mountpoints_under(self.dir):
                subprocess.run([_find("umount"), "-l", point], capture_output=True, check=False)
            shutil.rmtree(self.dir, ignore_errors=True)


@functools.cache
def podman_unavailable() -> str | None:
    """Why a private podman service cannot run containers here, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/ensure-system-deps installs Debian's)"
    if os.geteuid() != 0:
        return "the private rootful podman service needs root"
    if not Path(CATATONIT).exists():
        # Podman 4.3's compat API ignores containers.conf's init_path for `init: true`.
        return f"{CATATONIT} is missing (Debian package catatonit)"
    try:
        with private_podman() as service:
            service.load_image("smt-probe:1")
            result = service.podman("run", "--rm", "smt-probe:1", "exit 7", check=False)
            if result.returncode != 7:
                return ("podman could not run a container: "
                        f"{result.stderr.decode(errors='replace').strip()[-500:]}")
    except (PodmanError, OSError, subprocess.SubprocessError, AssertionError) as exc:
        return f"podman system service could not start: {exc}"
    return None


@contextlib.contextmanager
def private_podman() -> Iterator[PrivatePodman]:
    """Context manager: a started PrivatePodman, torn down on exit."""
    service = PrivatePodman()
    try:
        service.start()
        yield service
    finally:
        service.teardown()
