"""A private Docker daemon for tests that stop, kill or restart a daemon.

It runs beside the host's main daemon and never touches it:
- own data root, exec root (hence its own containerd and runc state), socket and pidfile;
- its own `--config-file`, because /etc/docker/daemon.json sets `data-root` and dockerd
  refuses a directive given both as a flag and in the file;
- its own network namespace (a bind-mounted netns entered with nsenter), because
  `--bridge=none` makes dockerd delete any `docker0` link it can see, which would take the
  main daemon's default bridge away, and because bridges in the host namespace would be
  subject to the main daemon's iptables FORWARD DROP policy and subnet choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .compose import docker_env, run_docker
from .images import copy_image
from .private_home import SBIN_PATH, claim, ensure_netns, find_tool, mountpoints_under, orphans
from .wait import wait_until

_STORAGE_CANDIDATES: tuple[str | None, ...] = (None, "fuse-overlayfs", "vfs")
_working_storage_driver: list[str | None] = []


DIR_PREFIX = "smd-"


class DockerdError(RuntimeError):
    """The private daemon failed to start or stop."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def ping_unix(socket_path: Path, timeout: float = 2.0) -> bool:
    """True when the Engine API on `socket_path` answers `GET /_ping` with 200 OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return False
    status = data.split(b"\r\n", 1)[0].split()
    return len(status) >= 2 and status[1] == b"200"


def _pids_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text`."""
    needle = text.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _children_of(pids: Sequence[int]) -> list[int]:
    wanted = {str(p) for p in pids}
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if ppid in wanted:
            children.append(int(entry.name))
    return children


def _kill_all(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(pids: Sequence[int], timeout: float) -> None:
    """Wait (best effort) until none of `pids` is alive; zombies count as gone."""
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: not any(_pid_alive(p) for p in pids),
            timeout,
            message="killed processes exiting",
        )


class PrivateDockerd:
    """A dockerd of our own under a short /tmp/smd-XXXX folder, in its own network namespace."""

    def __init__(
        self,
        *,
        extra_args: Sequence[str] = (),
        storage_driver: str | None = None,
        base: Path | None = None,
        _existing: Path | None = None,
    ) -> None:
        self.dir = _existing or Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=str(base or "/tmp")))
        self.data_root = self.dir / "root"
        self.exec_root = self.dir / "exec"
        self.run_dir = self.dir / "run"
        self.socket_path = self.run_dir / "docker.sock"
        self.pidfile = self.run_dir / "docker.pid"
        self.config_file = self.dir / "daemon.json"
        self.netns = self.dir / "netns"
        self.log_path = self.dir / "dockerd.log"
        self.extra_args = list(extra_args)
        self.storage_driver = storage_driver
        self._proc: subprocess.Popen[bytes] | None = None
        self._launched: list[subprocess.Popen[bytes]] = []  # every dockerd started, to reap
        if _existing is None:
            for folder in (self.data_root, self.exec_root, self.run_dir):
                folder.mkdir(parents=True, exist_ok=True)
            self.config_file.write_text("{}\n")
            claim(self.dir)

    @classmethod
    def sweep_orphans(cls, base: Path = Path("/tmp")) -> list[Path]:
        """Tear down private daemons whose owning process is gone (e.g. a killed test run)."""
        swept = []
        for folder in orphans(base, DIR_PREFIX):
            with contextlib.suppress(OSError):
                cls(_existing=folder).teardown(graceful=False)
                swept.append(folder)
        return swept

    @property
    def host(self) -> str:
        """The daemon's `unix://...` URL, for DOCKER_HOST or an API client."""
        return f"unix://{self.socket_path}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses (docker, compose) aimed at this daemon."""
        return docker_env(self.host)

    @property
    def pid(self) -> int | None:
        """PID recorded in the pidfile if that process is alive."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def command(self, storage_driver: str | None = None) -> list[str]:
        """The dockerd argument list (without the nsenter wrapper)."""
        cmd = [
            find_tool("dockerd"),
            f"--config-file={self.config_file}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--host={self.host}",
            f"--pidfile={self.pidfile}",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
        ]
        if storage_driver:
            cmd.append(f"--storage-driver={storage_driver}")
        return cmd + self.extra_args

    def ping(self) -> bool:
        """True when the daemon answers `/_ping`."""
        return ping_unix(self.socket_path)

    def is_running(self) -> bool:
        """True when the daemon process is alive and answers `/_ping`."""
        return self.pid is not None and self.ping()

    def _ensure_netns(self) -> None:
        ensure_netns(self.dir, self.netns)

    def _log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    @property
    def _containerd_pidfile(self) -> Path:
        return self.exec_root / "containerd" / "containerd.pid"

    def _drop_stale_containerd_pidfile(self) -> None:
        """Forget a dead containerd: dockerd would take its lingering zombie for a live one."""
        try:
            pid = int(self._containerd_pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if not _pid_alive(pid):
            self._containerd_pidfile.unlink(missing_ok=True)

    def _launch(self, storage_driver: str | None, timeout: float) -> bool:
        """Start dockerd once; True when it answers, False when it exited during startup."""
        if self.pid is None:
            self.pidfile.unlink(missing_ok=True)
        self._drop_stale_containerd_pidfile()
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "") + ":" + SBIN_PATH
        env.pop("DOCKER_HOST", None)
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                [find_tool("nsenter"), f"--net={self.netns}", *self.command(storage_driver)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._proc = proc
        self._launched.append(proc)
        self._reap(running=False)

        def ready_or_dead() -> str | None:
            if proc.poll() is not None:
                return "dead"
            return "ready" if self.ping() else None

        try:
            state = wait_until(
                ready_or_dead,
                timeout,
                interval=0.05,
                message=f"private dockerd answering on {self.socket_path}",
            )
        except AssertionError as exc:
            raise DockerdError(f"{exc}\n--- dockerd log ---\n{self._log_tail()}") from None
        return state == "ready"

    def start(self, timeout: float = 60.0) -> None:
        """Start the daemon and wait until `/_ping` answers (tries storage drivers on first use)."""
        if self.is_running():
            return
        self._ensure_netns()
        if self.storage_driver is not None:
            candidates: tuple[str | None, ...] = (self.storage_driver,)
        elif _working_storage_driver:
            candidates = (_working_storage_driver[0],)
        else:
            candidates = _STORAGE_CANDIDATES
        for driver in candidates:
            if self._launch(driver, timeout):
                self.storage_driver = driver
                if not _working_storage_driver:
                    _working_storage_driver.append(driver)
                return
        raise DockerdError(
            f"private dockerd did not start\n--- dockerd log ---\n{self._log_tail()}"
        )

    def _wait_exit(self, pid: int, timeout: float) -> None:
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise DockerdError(f"dockerd {pid} still running after {timeout}s") from None
        else:
            wait_until(
                lambda: not _pid_alive(pid),
                timeout,
                interval=0.05,
                message=f"dockerd {pid} exiting",
            )
        with contextlib.suppress(OSError, ValueError):
            containerd = int(self._containerd_pidfile.read_text().strip())
            wait_until(
                lambda: not _pid_alive(containerd),
                timeout,
                interval=0.05,
                message=f"containerd {containerd} exiting",
            )

    def stop(self, timeout: float = 60.0) -> None:
        """Orderly shutdown: SIGTERM to the pid in the pidfile, then wait for it to exit."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        self._wait_exit(pid, timeout)

    def kill(self, timeout: float = 30.0) -> None:
        """Crash the daemon with SIGKILL (its containers and shims keep running)."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        self._wait_exit(pid, timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Orderly stop, then start again."""
        self.stop(timeout)
        self.start(timeout)

    async def astart(self, timeout: float = 60.0) -> None:
        """`start()` in a worker thread, so an in-process agent's event loop keeps running."""
        await asyncio.to_thread(self.start, timeout)

    async def astop(self, timeout: float = 60.0) -> None:
        """`stop()` in a worker thread."""
        await asyncio.to_thread(self.stop, timeout)

    async def arestart(self, timeout: float = 60.0) -> None:
        """`restart()` in a worker thread."""
        await asyncio.to_thread(self.restart, timeout)

    async def akill(self, timeout: float = 30.0) -> None:
        """`kill()` in a worker thread."""
        await asyncio.to_thread(self.kill, timeout)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this daemon."""
        return run_docker(*args, docker_host=self.host, check=check, timeout=timeout)

    def load_image(self, name: str, from_host: str | None = None) -> None:
        """Copy image `name` from the main (or `from_host`) daemon into this one."""
        copy_image(name, to_host=self.host, from_host=from_host)

    def leftover_pids(self) -> list[int]:
        """PIDs of processes (dockerd, containerd, shims, proxies) that belong to this daemon."""
        return _pids_mentioning(str(self.dir) + "/")

    def mounts(self) -> list[str]:
        """Mount points under this daemon's folder, deepest first."""
        return mountpoints_under(self.dir)

    def _force_cleanup(self) -> None:
        """Kill containers, shims, containerd and dockerd of this daemon without its help."""
        pids = self.leftover_pids()
        if pids:
            # Container inits first, so their (still living) shims reap them.
            children = [p for p in _children_of(pids) if p not in pids]
            _kill_all(children)
            _wait_gone(children, 10)
            _kill_all(pids)
            _wait_gone(pids, 10)
        containers = self.data_root / "containers"
        ids = [p.name for p in containers.iterdir()] if containers.is_dir() else []
        cgroups = [
            cgroup
            for cid in ids
            for cgroup in (
                *Path("/sys/fs/cgroup").glob(f"*/docker/{cid}"),
                Path("/sys/fs/cgroup/docker") / cid,
            )
            if cgroup.is_dir()
        ]

        def remove_cgroups() -> bool:
            for cgroup in cgroups:
                with contextlib.suppress(OSError):
                    cgroup.rmdir()
            return not any(cgroup.is_dir() for cgroup in cgroups)

        with contextlib.suppress(AssertionError):
            wait_until(remove_cgroups, 10, interval=0.1, message="container cgroups removed")

    def _unmount_all(self) -> None:
        for lazy in (False, False, True):
            points = mountpoints_under(self.dir)
            if not points:
                return
            for point in points:
                cmd = [find_tool("umount"), "-l", point] if lazy else [find_tool("umount"), point]
                subprocess.run(cmd, capture_output=True, timeout=30, check=False)

    def teardown(self, graceful: bool = True) -> None:
        """Remove all containers, stop the daemon, unmount and delete its folder.

        After a crash, `graceful` restarts the daemon so it cleans up its own containers;
        whatever is left is killed by PID, then mounts are undone and the folder removed.
        """
        try:
            if graceful and self.pid is None and self.leftover_pids():
                with contextlib.suppress(DockerdError):
                    self.start()
            if graceful and self.is_running():
                ids = self.docker("ps", "--all", "--quiet", check=False).stdout.split()
                if ids:
                    self.docker("rm", "--force", "--volumes", *ids, check=False)
                self.stop()
        finally:
            self._force_cleanup()
            self._reap(running=True)
            self._unmount_all()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _reap(self, *, running: bool) -> None:
        """Wait for the dockerd processes this object started that have exited; with
        ``running``, kill the others first (teardown), so no process is left unwaited."""
        kept = []
        for proc in self._launched:
            if proc.poll() is None and running:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
            if proc.returncode is None:
                kept.append(proc)
        self._launched = kept
        if self._proc is not None and self._proc.returncode is not None:
            self._proc = None

    def __enter__(self) -> PrivateDockerd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def _socket_path(docker_host: str | None) -> str:
    host = docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        raise ValueError(f"only unix:// docker hosts are supported, got {host!r}")
    return host.removeprefix("unix://")


class EventRecorder:
    """Collects the Engine's event stream (`GET /events`) in a background thread until it ends.

    `start()` returns once the daemon has answered the subscription, so nothing emitted after
    that is missed; `since` (a unix time) also replays buffered events from before it.
    """

    def __init__(
        self,
        docker_host: str | None = None,
        *,
        since: float | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.socket_path = _socket_path(docker_host)
        self.since = time.time() if since is None else since
        self.filters = {k: list(v) for k, v in (filters or {}).items()}
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self.error = ""
        self._lock = threading.Lock()
        self._conn: _UnixHTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> EventRecorder:
        """Subscribe to `/events` and start reading; returns once the daemon has answered."""
        query = {"since": f"{self.since:.9f}"}
        if self.filters:
            query["filters"] = json.dumps(self.filters)
        conn = _UnixHTTPConnection(self.socket_path, timeout)
        conn.request("GET", "/events?" + urllib.parse.urlencode(query))
        response = conn.getresponse()
        if response.status != 200:
            body = response.read().decode(errors="replace")
            conn.close()
            raise RuntimeError(f"GET /events answered {response.status}: {body}")
        if conn.sock is not None:
            conn.sock.settimeout(None)
        self._conn = conn
        self._response = response
        self._thread = threading.Thread(
            target=self._read, args=(response,), name="docker-events", daemon=True
        )
        self._thread.start()
        return self

    def _read(self, response: http.client.HTTPResponse) -> None:
        try:
            while line := response.readline():
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    with self._lock:
                        self.events.append(event)
        except (OSError, http.client.HTTPException) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended.set()

    def snapshot(self) -> list[dict[str, Any]]:
        """A copy of the events received so far."""
        with self._lock:
            return list(self.events)

    def actions(self, kind: str = "container") -> list[tuple[str, str]]:
        """(action, actor name) pairs received so far for events of type `kind`."""
        return [
            (
                str(e.get("Action", e.get("status", ""))),
                str(e.get("Actor", {}).get("Attributes", {}).get("name", "")),
            )
            for e in self.snapshot()
            if e.get("Type") == kind
        ]

    def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], Any],
        timeout: float,
        message: str = "expected docker events",
    ) -> Any:
        """Wait until `predicate(events)` is truthy and return its value."""
        return wait_until(lambda: predicate(self.snapshot()), timeout, message=message)

    def close(self) -> None:
        """End the subscription and the reader thread."""
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._response is not None:
            self._response.close()
        if conn is not None:
            conn.close()

    def __enter__(self) -> EventRecorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def private_dockerd(**kwargs: Any) -> Iterator[PrivateDockerd]:
    """Context manager: a started PrivateDockerd, torn down on exit."""
    daemon = PrivateDockerd(**kwargs)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.teardown()


@contextlib.contextmanager
def started_private_dockerd(image: str) -> Iterator[PrivateDockerd]:
    """A private dockerd started with ``image`` loaded; torn down afterwards (orphans of
    earlier runs first)."""
    PrivateDockerd.sweep_orphans()
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load_image(image)
        yield daemon
    finally:
        daemon.teardown()
