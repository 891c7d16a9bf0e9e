"""ASGI middleware: the token is checked before a body is read, and bodies are capped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackmedic.auth import Scope as TokenScope
from stackmedic.auth import Tokens

if TYPE_CHECKING:
    from stackmedic.api.throttle import TokenThrottle

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiGuard:
    """Refuse unauthenticated ``/api`` requests and over-long bodies before the app sees them.

    A request without a valid token gets 401 whatever its body holds, so a malformed
    body never reaches the parser; a read-only token gets 403 for anything but reading; a
    method the schema does not document for the path gets 405 with one ``Allow`` for it.
    A client that keeps sending wrong tokens gets 429 with ``Retry-After`` (``throttle``).
    A body longer than ``max_body`` gets 413: at once when ``Content-Length`` says so,
    otherwise as soon as the bytes received pass the limit (the rest is never read).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tokens: Callable[[], Tokens],
        max_body: int,
        protected: Callable[[str], bool],
        methods: Callable[[str], set[str] | None],
        throttle: TokenThrottle | None = None,
    ) -> None:
        self.app = app
        self._tokens = tokens
        self._max_body = max_body
        self._protected = protected
        self._methods = methods
        self._throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope["path"]
        if self._protected(path):
            presented = headers.get("authorization", "")
            granted = self._tokens().scope_of(presented)
            if granted is None:
                wait = self._wrong_token(scope) if presented else None
                if wait is not None:
                    await _answer(send, 429, "too many wrong API tokens from this client; "
                                  f"try again in {wait} seconds", {"retry-after": str(wait)})
                else:
                    await _answer(send, 401, "missing or invalid API token",
                                  {"www-authenticate": "Bearer"})
                return
            allowed = self._methods(path)
            if allowed is not None and scope["method"] not in allowed:
                # One Allow header for the path, though the app has a route per method.
                allow = {"allow": ", ".join(sorted(allowed))}
                if scope["method"] == "OPTIONS":
                    await _answer(send, 204, "", allow)
                else:
                    await _answer(send, 405, "method not allowed", allow)
                return
            if granted is TokenScope.READ and scope["method"] not in SAFE_METHODS:
                await _answer(send, 403, "this token may only read; use the operator token")
                return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self._max_body):
            if not length.isdigit():
                await _answer(send, 400, "Content-Length is not a number")
            else:
                await _answer(send, 413, self._too_large())
            return
        body = await self._read_capped(receive)
        if body is None:
            await _answer(send, 413, self._too_large())
            return
        await self.app(scope, _replay(body, receive), send)

    def _wrong_token(self, scope: Scope) -> int | None:
        if self._throttle is None:
            return None
        client = scope.get("client")
        return self._throttle.wrong_token(str(client[0]) if client else "unknown")

    def _too_large(self) -> str:
        return (f"request body is larger than the limit of {self._max_body} bytes "
                "(api.max_body_bytes)")

    async def _read_capped(self, receive: Receive) -> list[Message] | None:
        """Every body message up to the limit; None as soon as the limit is passed."""
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            total += len(message.get("body", b""))
            if total > self._max_body:
                return None
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages first, then the real ones."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        found.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def _answer(send: Send, status: int, detail: str, extra: dict[str, str] | None = None
                  ) -> None:
    body = json.dumps({"detail": detail}).encode() if status != 204 else b""
    headers: list[tuple[bytes, bytes]] = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    if status == 413:
        headers.append((b"connection", b"close"))
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    message: dict[str, Any] = {"type": "http.response.start", "status": status,
                               "headers": headers}
    await send(message)
    await send({"type": "http.response.body", "body": body})
