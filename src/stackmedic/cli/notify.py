"""Commands about notifications: test the channels, list what was sent, silence deployments."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stackmedic.cli.app import ConfigOption, app, notify_app
from stackmedic.cli.calls import call
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time


@notify_app.command("test")
def notify_test(
    channel: Annotated[str | None, typer.Argument(metavar="CHANNEL", show_default=False)]
    = None,
    config: ConfigOption = None,
) -> None:
    """Send a test message through CHANNEL, or all channels, and say how each went."""
    body = call(config, "POST", "/api/notifications/test",
                json={"channel": channel} if channel else {})
    failed = 0
    for item in body["items"]:
        if item["ok"]:
            typer.echo(f"{item['channel']} ({item['kind']}): sent in "
                       f"{item['duration_seconds']:.2f}s")
        else:
            failed += 1
            typer.echo(f"{item['channel']} ({item['kind']}): FAILED: {item['error']}")
    if not body["items"]:
        typer.echo("error: no notification channels are configured, so nothing was sent "
                   "(add one under `notifications.channels`)", err=True)
        sys.exit(1)
    if failed:
        sys.exit(1)


@notify_app.command("list")
def notify_list(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 20,
) -> None:
    """Recent notifications with their delivery status per channel."""
    body = call(config, "GET", "/api/notifications", params={"limit": limit})
    rows = []
    for n in reversed(body["items"]):
        deliveries = ", ".join(f"{d['channel']}:{d['status']}" for d in n["deliveries"])
        rows.append([local_time(n["created_at"]), n["severity"], n["deployment"] or "-",
                     n["title"][:60], deliveries or n["state"]])
    typer.echo(render_table(["TIME", "SEVERITY", "DEPLOYMENT", "TITLE", "DELIVERIES"], rows))


@app.command()
def silence(
    deployment: Annotated[str, typer.Argument(metavar="DEPLOYMENT", show_default=False)],
    hours: Annotated[float, typer.Option(
        "--hours", "-h", min=0.01, max=8784, help="How long the silence lasts.")] = 1.0,
    reason: Annotated[str, typer.Option(
        "--reason", "-r", help="Why (shown with the silence).", show_default=False)] = "",
    config: ConfigOption = None,
) -> None:
    """Hold notifications for DEPLOYMENT ('*' for all) for some hours (a maintenance window)."""
    body = call(config, "POST", "/api/silences",
                json={"deployment": deployment, "hours": hours, "reason": reason})
    typer.echo(f"silenced {deployment} until {local_time(body.get('ends_at'))} "
               f"(silence {body.get('id')})")


@app.command()
def unsilence(
    silence_id: Annotated[int, typer.Argument(metavar="SILENCE_ID", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    call(config, "DELETE", f"/api/silences/{silence_id}")
    typer.echo(f"silence {silence_id} ended")
