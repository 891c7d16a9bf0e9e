"""Talks to a running agent's API on behalf of the CLI (standard library only: fast start)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from stackmedic.cli.address import AgentAddress


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

    def __init__(self, address: AgentAddress, *, timeout: float = 330) -> None:
        self.url = address.url
        self.token = address.token
        self.timeout = timeout

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                **body: Any) -> Any:
        """Send a request (``json=`` for a JSON body); return the decoded JSON or raise."""
        status, answer = self.exchange(method, path, params=params, json_body=body.get("json"))
        if status >= 400:
            detail = answer.get("detail", answer) if isinstance(answer, dict) else answer
            raise ApiError(status, detail)
        return answer

    def exchange(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json_body: Any = None) -> tuple[int, Any]:
        """Send a request; return the HTTP status and the decoded answer, errors included."""
        headers = {"X-Stackmedic-Source": "cli", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(self.url + path + query, data=data, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AgentUnavailable(
                f"no stackmedic agent answers at {self.url} ({reason}). "
                "Start one with `stackmedic run` (or `make run`); the CLI finds it through "
                "the same config file ($STACKMEDIC_CONFIG, --config) and STACKMEDIC_* "
                "variables as the agent, or STACKMEDIC_URL."
            ) from None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
