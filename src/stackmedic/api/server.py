"""Serve the FastAPI app with uvicorn inside the agent's loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import TYPE_CHECKING

import structlog
import uvicorn

from stackmedic.api.app import create_app

# Longer than clients keep an idle connection: httpx 5 s, Go's transports 90 s.
KEEP_ALIVE_SECONDS = 100

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView

log = structlog.get_logger(__name__)


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the agent."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """The agent owns SIGTERM/SIGINT; uvicorn must not take them."""
        yield


class ApiServer:
    """Handle on the running server task."""

    def __init__(self, server: EmbeddedServer, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task

    @property
    def port(self) -> int:
        """The port actually bound (useful when configured as 0)."""
        servers = self._server.servers
        return int(servers[0].sockets[0].getsockname()[1]) if servers else 0

    async def stop(self) -> None:
        """Stop accepting requests and finish the ones in flight."""
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def start_api_server(agent: AgentView) -> ApiServer:
    """Start serving and return once the socket listens (or raise why it cannot)."""
    # Building the app's routes and models takes a few hundred ms of CPU: done in a
    # thread, the event loop goes on with the engine connection meanwhile (at boot, the
    # reconcile's first starts come that much sooner).
    app = await asyncio.to_thread(create_app, agent)
    config = uvicorn.Config(
        app,
        host=agent.settings.api.host,
        port=agent.settings.api.port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=3,
        # At uvicorn's 5 s a client reusing a connection idle that long races its close
        # and reads a reset.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(
                f"the API could not listen on {config.host}:{config.port}"
            )
        await asyncio.sleep(0.02)
    handle = ApiServer(server, task)
    _say_where(agent, handle.port)
    return handle


def _say_where(agent: AgentView, port: int) -> None:
    """Log the dashboard's address and where its login token is (never the token)."""
    api = agent.settings.api
    host = api.host if api.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    log.info(
        "dashboard ready",
        url=f"http://{host}:{port}/",
        token_file="set in the config" if api.token else str(agent.settings.resolved_token_file),
        read_only_token_file="set in the config" if api.read_token
        else str(agent.settings.resolved_read_token_file),
        api_docs=f"http://{host}:{port}/docs",
    )
