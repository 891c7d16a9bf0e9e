"""``stackmedic check``: is the agent alive and seeing Docker? (for scripts and probes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stackmedic.cli.main import agent_client, app, config_option

EXIT_UNHEALTHY = 1
EXIT_UNREACHABLE = 3


@app.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print /healthz's JSON answer.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds to wait for the agent.")
def check(config: Path | None, as_json: bool, timeout: float) -> None:
    """Ask the running agent's /healthz; exit 0 when healthy, 1 naming each problem,
    3 when no agent answers."""
    from stackmedic.cli.client import AgentUnavailable

    client = agent_client(config, timeout=timeout)
    try:
        status, answer = client.exchange("GET", "/healthz")
    except AgentUnavailable as exc:
        click.echo(f"unhealthy: {exc}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    body: dict[str, Any] = answer if isinstance(answer, dict) else {"problems": [str(answer)]}
    if as_json:
        click.echo(json.dumps(body, indent=2))
    problems = body.get("problems") or []
    if status == 200 and not problems:
        if not as_json:
            loops = ", ".join(sorted((body.get("agent") or {}).get("loops") or {}))
            click.echo(f"ok: Docker reachable; loops alive: {loops}")
        return
    if not as_json:
        click.echo(f"{body.get('status', 'unhealthy')} (HTTP {status}):")
        for problem in problems or ["no reason given"]:
            click.echo(f"  - {problem}")
    sys.exit(EXIT_UNHEALTHY)
