"""``stackmedic check``: is the agent alive and seeing Docker? (for scripts and probes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from stackmedic.cli.client import AgentClient
from stackmedic.cli.main import _settings, app

EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 3


@app.command("check")
def check(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config file (default: $STACKMEDIC_CONFIG).",
                     dir_okay=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print /healthz's JSON answer.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the agent.", min=0.1)] = 10,
) -> None:
    """Ask the running agent's /healthz; exit 0 when healthy, 1 naming each problem,
    3 when no agent answers."""
    client = AgentClient(_settings(config))
    try:
        response = httpx.get(client.url + "/healthz", timeout=timeout)
        body: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        typer.echo(f"unhealthy: no stackmedic agent answers at {client.url} ({exc})", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    problems = body.get("problems") or []
    if response.status_code == 200 and not problems:
        if not as_json:
            loops = ", ".join(sorted((body.get("agent") or {}).get("loops") or {}))
            typer.echo(f"ok: Docker reachable; loops alive: {loops}")
        return
    if not as_json:
        typer.echo(f"{body.get('status', 'unhealthy')} (HTTP {response.status_code}):")
        for problem in problems or ["no reason given"]:
            typer.echo(f"  - {problem}")
    raise typer.Exit(EXIT_UNHEALTHY)
