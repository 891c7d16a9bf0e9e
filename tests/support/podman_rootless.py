"""A private rootless ``podman system service``: the same kit, run as an unprivileged user.

The kit runs it as its own user (``stackmedic-rootless``, made on first use with subuid
and subgid ranges, as a real rootless host has), so no local user is borrowed. Its
storage, runtime dir (``XDG_RUNTIME_DIR``: socket, runc state, the rootless network
namespace kept by slirp4netns), temp folder and config live under a /tmp/smr-XXXX folder
owned by that user, so nothing of the host's is touched and no network namespace of our
own is needed. A simulated reboot is not offered here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .dockerd import _children_of, _pid_alive
from .podman import PodmanError, PrivatePodman, _find
from .wait import wait_until

TEST_USER = "stackmedic-rootless"
SUBID_COUNT = 65536


def _subid_start(path: Path) -> int:
    """The first subordinate id past every range already handed out in ``path``."""
    end = 100000
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                end = max(end, int(parts[1]) + int(parts[2]))
    return end


def _has_range(path: Path, name: str) -> bool:
    return path.exists() and any(line.split(":")[0] == name
                                 for line in path.read_text().splitlines())


def unprivileged_user() -> pwd.struct_passwd | None:
    """The kit's own user to run rootless podman as, made when missing (root only), with
    subordinate uid and gid ranges as a real rootless host gives its users."""
    try:
        user = pwd.getpwnam(TEST_USER)
    except KeyError:
        if os.geteuid() != 0 or shutil.which("useradd") is None:
            return None
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        TEST_USER], capture_output=True, check=False)
        try:
            user = pwd.getpwnam(TEST_USER)
        except KeyError:
            return None
    for kind, path in (("uids", Path("/etc/subuid")), ("gids", Path("/etc/subgid"))):
        if not _has_range(path, TEST_USER) and os.geteuid() == 0:
            start = _subid_start(path)
            subprocess.run(["usermod", f"--add-sub{kind}",
                            f"{start}-{start + SUBID_COUNT - 1}", TEST_USER],
                           capture_output=True, check=False)
    return user


class RootlessPodman(PrivatePodman):
    """A podman API service run as ``user``, under a short /tmp/smr-XXXX folder."""

    prefix = "smr-"

    def __init__(self, user: pwd.struct_passwd | None = None, **kwargs: object) -> None:
        chosen = user or unprivileged_user()
        if chosen is None:
            raise PodmanError("no unprivileged user to run rootless podman as")
        self.user = chosen
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # Rootless podman keeps its storage under HOME whatever storage.conf says, and
        # conmon's cleanup command (``--root`` from it) derives the database and volume
        # dirs from that root: pinning them elsewhere leaves it finding no container, so
        # no ``die`` is ever reported for a crash.
        kept = [line for line in self.containers_conf.read_text().splitlines()
                if not line.startswith(("static_dir", "volume_path"))]
        self.containers_conf.write_text("\n".join(kept) + "\n")
        self.runtime_dir = self.dir / "run"
        self.home = self.dir / "home"
        self.tmp = self.dir / "tmp"
        for folder in (self.runtime_dir, self.home, self.tmp):
            folder.mkdir(mode=0o700, exist_ok=True)
        self._chown()

    def _chown(self) -> None:
        for folder, _, files in os.walk(self.dir):
            for name in [folder, *(os.path.join(folder, f) for f in files)]:
                with contextlib.suppress(OSError):
                    os.chown(name, self.user.pw_uid, self.user.pw_gid)

    @property
    def env(self) -> dict[str, str]:
        """The kit's environment plus the user's own home and runtime dir."""
        env = dict(super().env)
        env.update({"HOME": str(self.dir / "home"), "USER": self.user.pw_name,
                    "XDG_RUNTIME_DIR": str(self.dir / "run"),
                    # The caller's TMPDIR (pytest's, 0700 and root's) is unreadable to it.
                    "TMPDIR": str(self.dir / "tmp"),
                    "XDG_CONFIG_HOME": str(self.dir / "home" / ".config")})
        return env

    def _command(self, *args: str) -> list[str]:
        uid, gid = str(self.user.pw_uid), str(self.user.pw_gid)
        return [_find("setpriv"), "--reuid", uid, "--regid", gid, "--clear-groups",
                _find("podman"), *args]

    def _kill_containers(self, ids: list[str]) -> None:
        """SIGKILL the user's podman processes of this folder (conmon, slirp4netns, the
        pause process) and every process below them (the containers')."""
        marker = f"XDG_RUNTIME_DIR={self.dir / 'run'}".encode()
        roots = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                mine = entry.stat().st_uid == self.user.pw_uid
                if mine and marker in (entry / "environ").read_bytes():
                    roots.append(int(entry.name))
            except OSError:
                continue
        pids, frontier = set(roots), list(roots)
        while frontier:
            frontier = [p for p in _children_of(frontier) if p not in pids]
            pids.update(frontier)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(_pid_alive(p) for p in pids), 20,
                   message="rootless podman processes gone")

    def reboot(self, boot_id: Path, new_boot_id: str) -> None:
        """Not offered: see the module docstring."""
        raise PodmanError("the rootless kit offers no simulated reboot")


@functools.cache
def rootless_podman_unavailable() -> str | None:
    """Why a rootless podman service cannot run containers here, or None when it can."""
    if shutil.which("podman") is None or shutil.which("setpriv") is None:
        return "podman or setpriv is not installed"
    if os.geteuid() != 0:
        return "the kit needs root to run podman as another user"
    user = unprivileged_user()
    if user is None:
        return "no local user with a uid from 1000 on to run rootless podman as"
    try:
        with rootless_podman(user) as service:
            service.load_image("smt-probe:1")
            result = service.podman("run", "--rm", "smt-probe:1", "exit 7", check=False)
            if result.returncode != 7:
                return (f"rootless podman (as {user.pw_name}) could not run a container: "
                        f"{result.stderr.decode(errors='replace').strip()[-500:]}")
    except (PodmanError, OSError, subprocess.SubprocessError, AssertionError) as exc:
        return f"rootless podman system service could not start: {exc}"
    return None


@contextlib.contextmanager
def rootless_podman(user: pwd.struct_passwd | None = None) -> Iterator[RootlessPodman]:
    """Context manager: a started RootlessPodman, torn down on exit."""
    service = RootlessPodman(user)
    try:
        service.start()
        yield service
    finally:
        service.teardown()
