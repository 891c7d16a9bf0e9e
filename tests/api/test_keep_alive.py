"""A kept-alive connection outlives the idle time clients reuse it after."""

from __future__ import annotations

import asyncio
import http.client
import select
from pathlib import Path

from stackmedic.agent import Agent
from stackmedic.api.server import start_api_server
from stackmedic.config.model import Settings

IDLE = 6.0  # past httpx's 5-s keep-alive expiry, and uvicorn's 5-s default


def _served_twice(port: int) -> tuple[bool, bool, int]:
    """Two requests on one connection with ``IDLE`` seconds between them: whether the server
    closed it meanwhile (it turns readable at the close), whether the second request went on
    the same socket, and its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        first = conn.sock
        closed, _, _ = select.select([first], [], [], IDLE)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return bool(closed), conn.sock is first, response.status
    finally:
        conn.close()


async def test_a_connection_idle_past_the_clients_expiry_is_still_served(
        tmp_path: Path) -> None:
    # A client that reuses a connection idle for as long as the server keeps it would race
    # the server's close and read a reset (an httpx client polling every 5 s did).
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "deployments_path": str(tmp_path / "deployments"),
        "docker": {"host": f"unix://{tmp_path}/missing.sock"},
        "api": {"port": 0},
    })
    (tmp_path / "deployments").mkdir()
    agent = Agent(settings)
    server = await start_api_server(agent)
    try:
        closed, same, status = await asyncio.to_thread(_served_twice, server.port)
    finally:
        await server.stop()
        await agent.engine.close()
        agent.db.close()
    assert not closed and same and status in (200, 503), status
