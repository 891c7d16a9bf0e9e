"""``stackmedic check``: is the agent alive and seeing Docker? (for scripts and probes)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from stackmedic.cli.app import ConfigOption, app
from stackmedic.cli.calls import agent_client

EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 3


@app.command("check")
def check(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print /healthz's JSON answer.")]
    = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, help="Seconds to wait for the agent.")] = 10.0,
) -> None:
    """Ask the running agent's /healthz; exit 0 when healthy, 1 naming each problem,
    3 when no agent answers."""
    from stackmedic.cli.client import AgentUnavailable

    client = agent_client(config, timeout=timeout)
    try:
        status, answer = client.exchange("GET", "/healthz")
    except AgentUnavailable as exc:
        typer.echo(f"unhealthy: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    body: dict[str, Any] = answer if isinstance(answer, dict) else {"problems": [str(answer)]}
    if as_json:
        typer.echo(json.dumps(body, indent=2))
    problems = body.get("problems") or []
    if status == 200 and not problems:
        if not as_json:
            loops = ", ".join(sorted((body.get("agent") or {}).get("loops") or {}))
            typer.echo(f"ok: Docker reachable; loops alive: {loops}")
        return
    if not as_json:
        typer.echo(f"{body.get('status', 'unhealthy')} (HTTP {status}):")
        for problem in problems or ["no reason given"]:
            typer.echo(f"  - {problem}")
    sys.exit(EXIT_UNHEALTHY)
