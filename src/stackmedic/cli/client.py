"""Talks to a running agent's API on behalf of the CLI."""

from __future__ import annotations

import os
from typing import Any

import httpx

from stackmedic.auth import read_token
from stackmedic.config.model import Settings


class AgentUnavailable(Exception):
    """The agent's API did not answer."""


class ApiError(Exception):
    """The agent answered with an error."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{status}: {detail}")


class AgentClient:
    """A small synchronous client of the agent's API."""

    def __init__(self, settings: Settings, *, url: str | None = None,
                 token: str | None = None, timeout: float = 330) -> None:
        host = settings.api.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        self.url = (url or os.environ.get("STACKMEDIC_URL")
                    or f"http://{host}:{settings.api.port}").rstrip("/")
        configured = settings.api.token.get_secret_value() if settings.api.token else None
        self.token = (token or os.environ.get("STACKMEDIC_TOKEN") or configured
                      or read_token(settings.resolved_token_file))
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; return the decoded JSON or raise a readable error."""
        headers = {"X-Stackmedic-Source": "cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = httpx.request(method, self.url + path, headers=headers,
                                     timeout=self.timeout, **kwargs)
        except httpx.TransportError as exc:
            raise AgentUnavailable(
                f"no stackmedic agent answers at {self.url} ({exc}). "
                "Start one with `stackmedic run` (or `make run`)."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            detail = body.get("detail", body) if isinstance(body, dict) else body
            raise ApiError(response.status_code, detail)
        return body
