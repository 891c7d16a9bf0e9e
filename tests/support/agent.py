"""Run a stackmedic agent for a test: in-process (``running_agent``) or as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from stackmedic.agent import Agent
from stackmedic.config.model import Settings
from support.wait import async_wait_until, wait_until

FAST_TIMINGS: dict[str, Any] = {
    "rescan_interval_seconds": 0.5,
    "intent": {"stop_settle_seconds": 2, "start_settle_seconds": 1},
    "health": {"sweep_interval_seconds": 5, "start_grace_seconds": 2},
    "docker": {"reconnect_initial_seconds": 0.2, "reconnect_max_seconds": 1},
    # Recovery would act on the deployments of tests about other things; tests of
    # recovery turn it on with RECOVERY_ON.
    "recovery": {"enabled": False},
}

RECOVERY_ON: dict[str, Any] = {
    "recovery": {
        "enabled": True, "settle_seconds": 0.5, "backoff_initial_seconds": 0.5,
        "backoff_max_seconds": 2, "verify_timeout_seconds": 20, "verify_stable_seconds": 1,
        "attempt_budget": 3, "budget_window_seconds": 600, "gave_up_clear_healthy_seconds": 5,
    },
}


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two config mappings (``extra`` wins)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def agent_config(
    data_dir: Path,
    deployments_path: Path,
    *,
    docker_host: str | None = None,
    port: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """A config mapping with test-friendly timings."""
    config = merge(
        FAST_TIMINGS,
        {
            "data_dir": str(data_dir),
            "deployments_path": str(deployments_path),
            "api": {"port": port},
        },
    )
    if docker_host:
        config = merge(config, {"docker": {"host": docker_host}})
    return merge(config, overrides)


@dataclass
class AgentHandle:
    """A running in-process agent and an authenticated API client for it."""

    agent: Agent
    api: httpx.AsyncClient

    async def get(self, path: str, **kwargs: Any) -> Any:
        """GET a JSON answer, failing the test on an error status."""
        response = await self.api.get(path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST and return the response."""
        return await self.api.post(path, **kwargs)

    async def deployment(self, name: str) -> dict[str, Any]:
        """The API's detail of one deployment."""
        body: dict[str, Any] = await self.get(f"/api/deployments/{name}")
        return body

    async def desired(self, name: str) -> dict[str, Any] | None:
        """The deployment's desired state as the API reports it."""
        rows = (await self.get("/api/deployments"))["items"]
        for row in rows:
            if row["name"] == name:
                desired: dict[str, Any] | None = row["desired"]
                return desired
        return None

    async def wait_listed(self, name: str, timeout: float = 30) -> None:
        """Wait until the agent lists ``name`` with a desired state."""
        await async_wait_until(
            lambda: self.desired(name), timeout, message=f"deployment {name} listed"
        )


@asynccontextmanager
async def running_agent(
    data_dir: Path,
    deployments_path: Path,
    *,
    docker_host: str | None = None,
    **overrides: Any,
) -> AsyncIterator[AgentHandle]:
    """Start an agent in this event loop; stop it afterwards."""
    settings = Settings.model_validate(
        agent_config(data_dir, deployments_path, docker_host=docker_host, **overrides)
    )
    agent = Agent(settings)
    await agent.start()
    assert agent.server is not None
    base = f"http://127.0.0.1:{agent.server.port}"
    headers = {"Authorization": f"Bearer {agent.token}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as api:
            yield AgentHandle(agent, api)
    finally:
        await agent.close()


class AgentProcess:
    """``stackmedic run`` in a child process, for kill and restart tests."""

    def __init__(self, config: Mapping[str, Any], folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = int(config.get("api", {}).get("port") or free_port())
        self.config = merge(config, {"api": {"port": self.port}})
        self.config_path = folder / "stackmedic.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config))
        self.log_path = folder / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the agent's API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start the process and wait until ``/healthz`` answers."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stackmedic", "run", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
        )
        log.close()

        def answering() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited: {self.log_path.read_text()[-3000:]}")
            try:
                httpx.get(self.url + "/healthz", timeout=2)
            except httpx.TransportError:
                return False
            return True

        wait_until(answering, timeout, interval=0.1, message="agent answers /healthz")

    def env(self) -> dict[str, str]:
        """Environment for the agent and for CLI calls against it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STACKMEDIC_")}
        env["STACKMEDIC_CONFIG"] = str(self.config_path)
        return env

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run the ``stackmedic`` CLI against this agent."""
        return subprocess.run(
            [sys.executable, "-m", "stackmedic", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            check=False,
        )

    def token(self) -> str:
        """The agent's API token."""
        return (Path(self.config["data_dir"]) / "api-token").read_text().strip()

    def api(self, method: str, path: str) -> httpx.Response:
        """One authenticated API call."""
        return httpx.request(
            method,
            self.url + path,
            timeout=120,
            headers={"Authorization": f"Bearer {self.token()}"},
        )

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM and wait; return the exit code."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL and wait."""
        return self._signal(signal.SIGKILL, 15)

    def _signal(self, sig: int, timeout: float) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def close(self) -> None:
        """Make sure the process is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)
        self.proc = None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
