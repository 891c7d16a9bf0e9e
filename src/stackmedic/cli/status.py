"""``stackmedic status``: every deployment's desired and observed state, health and host."""

from __future__ import annotations

import json
from typing import Any

import typer

from stackmedic.cli.app import ConfigOption, JsonOption, app
from stackmedic.cli.calls import agent_client, call
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """A table of deployments: desired vs observed state and health."""
    body = call(config, "GET", "/api/deployments")
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    rows = []
    for d in body["items"]:
        desired = d.get("desired") or {}
        health = d.get("health") or {}
        rows.append([
            d["name"], desired.get("state", "-"), desired.get("source", "-"),
            d["state"], health.get("verdict", "-"),
            f"{d['containers']['running']}/{d['containers']['total']}",
            health.get("reason") or _first_line(d.get("error")),
        ])
    if not rows:
        typer.echo("no deployments found")
    else:
        typer.echo(render_table(
            ["DEPLOYMENT", "DESIRED", "SOURCE", "OBSERVED", "HEALTH", "UP", "REASON"], rows))
        _echo_attention(body["items"])
    _echo_host_block(config)


def _echo_attention(items: list[dict[str, Any]]) -> None:
    """Deployments down against a wanted ``running`` that nothing will bring back."""
    for d in items:
        attention = d.get("attention")
        if not attention:
            continue
        message = str(attention["message"])
        if attention.get("at"):
            message += f" at {local_time(attention['at'])}"
        if attention.get("detail"):
            message += f" ({attention['detail']})"
        typer.echo(f"\n{d['name']} needs attention: {message}\n"
                   f"  run `{attention['fix'][0]}` to bring it back, or "
                   f"`{attention['fix'][1]}` if it should stay down")


def _echo_host_block(config: str | None) -> None:
    """The host block of ``status``: engine, cgroups, resource source, Compose, problems."""
    from stackmedic.cli.client import AgentUnavailable
    from stackmedic.hostinfo.model import report_lines

    try:
        _, body = agent_client(config).exchange("GET", "/healthz")  # a 503 carries it too
    except AgentUnavailable:
        return
    host = body.get("host") if isinstance(body, dict) else None
    if isinstance(host, dict):
        typer.echo("")
        typer.echo("\n".join(report_lines(host)))
