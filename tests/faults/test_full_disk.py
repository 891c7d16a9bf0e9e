"""The data folder on a small filesystem that fills up: the agent keeps watching and says so."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.agent import running_agent
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

from .test_engine_faults import healthz, problem_naming

pytestmark = pytest.mark.docker


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs for the agent's data folder."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the filesystem has no room left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        size = 65536
        while size:
            try:
                os.write(fd, b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)


async def test_a_full_data_folder_is_reported_and_writing_resumes(
    small_fs: Path, deployments: DeploymentFactory,
) -> None:
    site = deployments.make("disk", {"web": service("sleep 3600"), "api": service("sleep 3600")})
    site.up()
    async with running_agent(small_fs / "data", deployments.root,
                             health={"sweep_interval_seconds": 1}) as handle:
        agent = handle.agent

        async def ok() -> bool:
            return (await healthz(handle))[0] == 200

        await async_wait_until(ok, 60, message="healthy agent first")
        filler = small_fs / "filler"
        await asyncio.to_thread(fill, filler)

        problem = await async_wait_until(lambda: problem_naming(handle, "store"), 30,
                                         message="/healthz names the full store")
        assert "full" in problem
        # Still watching: a stop is seen, and the API answers.
        await asyncio.to_thread(site.stop, "api", timeout=1)

        def api_exited() -> bool:
            states = {c.service: c.status for c in agent.observed.for_project(site.name)}
            return states.get("api") == "exited"

        await async_wait_until(api_exited, 30, message="the agent still sees the engine")
        assert (await handle.api.get("/api/deployments")).status_code == 200

        filler.unlink()
        await async_wait_until(ok, 60, message="/healthz back to 200 once there is room")
        rows = agent.db.execute("INSERT INTO agent_facts (key, value, updated_at)"
                                " VALUES ('after-full', 'x', 0)")
        assert rows >= 0  # the store takes writes again
