"""systemd's watchdog and `stackmedic check` follow the agent's heartbeats."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from health.proxy import SocketProxy
from stackmedic.cli.main import app
from support.agent import AgentHandle
from support.deployments import DeploymentFactory, service
from support.wait import async_wait_until

pytestmark = pytest.mark.docker

EVENTS = r"/events$"


class NotifySocket:
    """The service manager's end of ``$NOTIFY_SOCKET``: collects what the agent says."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.messages.append((await loop.sock_recv(self.sock, 4096)).decode())

    def count(self, prefix: str, since: int = 0) -> int:
        """How many messages (from number ``since`` on) start with ``prefix``."""
        return sum(1 for m in self.messages[since:] if m.startswith(prefix))

    async def close(self) -> None:
        """Stop collecting."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.sock.close()


def check(handle: AgentHandle) -> Any:
    """Run `stackmedic check` against the in-process agent (in a thread: it needs the loop)."""
    env = {"STACKMEDIC_URL": f"http://127.0.0.1:{handle.agent.server.port}",
           "STACKMEDIC_CONFIG": None}
    return asyncio.to_thread(CliRunner().invoke, app, ["check"], env=env)


async def test_watchdog_and_check_follow_a_blind_event_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: SocketProxy,
    private_deployments: DeploymentFactory, agent_via_proxy: Callable[..., Any],
) -> None:
    private_deployments.make("watched", {"web": service("sleep 3600")}).up()
    path = tmp_path / "notify.sock"
    manager = NotifySocket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # pinged every 0.2 s while alive
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    try:
        handle: AgentHandle = await agent_via_proxy()
        await async_wait_until(lambda: manager.count("READY=1"), 30, message="READY=1 sent")
        await async_wait_until(lambda: manager.count("WATCHDOG=1") >= 3, 30,
                               message="watchdog pinged while alive")
        ok = await check(handle)
        assert ok.exit_code == 0, ok.output
        assert ok.output.startswith("ok: Docker reachable; loops alive: events, notifier")

        proxy.fault(EVENTS, "close")
        proxy.cut()  # ends the open stream; reconnects meet the refusal
        proxy.restore()
        await async_wait_until(lambda: handle.agent.stream.error, 30, message="stream ended")
        mark = len(manager.messages)
        await async_wait_until(
            lambda: manager.count("STATUS=unhealthy: events", mark), 30,
            message="the watchdog is told why it is not pinged",
        )
        mark = len(manager.messages)
        await async_wait_until(lambda: manager.count("STATUS=unhealthy", mark) >= 3, 30)
        assert manager.count("WATCHDOG=1", mark) == 0, manager.messages[mark:]
        blind = await check(handle)
        assert blind.exit_code == 1, blind.output
        assert "events: no progress" in blind.output
        assert "event stream not connected" in blind.output

        proxy.clear()
        mark = len(manager.messages)
        await async_wait_until(lambda: manager.count("WATCHDOG=1", mark), 60,
                               message="pings resume once the stream is back")
    finally:
        await manager.close()
