"""A real chat-completions endpoint on 127.0.0.1 (uvicorn + Starlette in the test's loop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from support.wait import async_wait_until


@dataclass(frozen=True)
class CapturedRequest:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}/v1"


def completion(content: str, model: str = "test-model") -> dict[str, Any]:
    """A chat.completion payload whose single choice says ``content``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ChatServer:
    """Answers ``POST /v1/chat/completions`` as scripted by its attributes.

    ``content`` is the assistant's text; ``status`` the HTTP status; ``payload`` replaces
    the whole JSON answer and ``raw`` the whole body. With ``hold`` set the handler waits
    for ``release`` (set at teardown) before answering; ``pending`` counts handlers still
    waiting. With ``trickle`` set the answer starts at once but its body arrives as one
    space per ``trickle_interval`` until ``release``. ``answered`` counts answers sent whole.
    """

    def __init__(self) -> None:
        self.content = "All fine.\n```suggestions\n[]\n```"
        self.status = 200
        self.payload: dict[str, Any] | None = None
        self.raw: bytes | None = None
        self.hold = False
        self.trickle = False
        self.trickle_interval = 0.05
        self.answered = 0
        self.release = asyncio.Event()
        self.requests: list[CapturedRequest] = []
        self.pending = 0
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        app = Starlette(routes=[Route("/v1/chat/completions", self._answer, methods=["POST"])])
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", ws="none", http="h11"
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def _answer(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(CapturedRequest(request.url.path, dict(request.headers), body))
        if self.hold:
            self.pending += 1
            try:
                await self.release.wait()
            finally:
                self.pending -= 1
        if self.trickle:
            return StreamingResponse(self._trickled(), media_type="application/json")
        self.answered += 1
        if self.raw is not None:
            return Response(self.raw, status_code=self.status, media_type="text/plain")
        return JSONResponse(self._payload(), status_code=self.status)

    def _payload(self) -> dict[str, Any]:
        return self.payload if self.payload is not None else completion(self.content)

    async def _trickled(self) -> AsyncIterator[bytes]:
        while not self.release.is_set():
            yield b" "
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), timeout=self.trickle_interval)
        yield json.dumps(self._payload()).encode()
        self.answered += 1

    async def start(self) -> None:
        """Serve in the running loop; returns once it accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))

        def started() -> bool:
            assert self._task is not None
            if self._task.done():
                self._task.result()
                raise AssertionError("the chat server stopped while starting")
            return bool(self._server.started)

        await async_wait_until(started, timeout=5, interval=0.01, message="chat server up")

    async def stop(self) -> None:
        """Let held handlers answer, then shut down."""
        self.release.set()
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=5)
        self._socket.close()
