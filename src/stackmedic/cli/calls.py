"""Calling the agent from a command: failures become a message and the CLI's exit codes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from stackmedic.cli.address import AddressProblem, resolve_address
from stackmedic.cli.app import config_file

if TYPE_CHECKING:
    from stackmedic.cli.client import AgentClient


def agent_client(config: str | None, *, timeout: float = 330) -> AgentClient:
    """A client of the agent named by the config and environment; exit 2 if they are bad."""
    from stackmedic.cli.client import AgentClient

    try:
        return AgentClient(resolve_address(config_file(config)), timeout=timeout)
    except AddressProblem as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        sys.exit(2)


def call(config: str | None, method: str, path: str, **kwargs: Any) -> Any:
    """The agent's answer to one request; exit 3 when no agent answers, 1 on its error."""
    from stackmedic.cli.client import AgentUnavailable, ApiError

    client = agent_client(config)
    try:
        return client.request(method, path, **kwargs)
    except AgentUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except ApiError as exc:
        detail = exc.detail
        if isinstance(detail, dict):
            detail = detail.get("message", "") + (
                f"\n{detail['stderr']}" if detail.get("stderr") else "")
        typer.echo(f"error ({exc.status}): {detail}", err=True)
        sys.exit(1)
