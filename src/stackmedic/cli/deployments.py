"""Commands on one deployment through the agent: act on it, its events, health and diagnosis."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from stackmedic.cli.app import ConfigOption, JsonOption, NameArgument, app
from stackmedic.cli.calls import call
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time


def _action_command(action: str, doc: str) -> None:
    """Register ``stackmedic ACTION NAME``, which asks the agent to act on a deployment."""

    def command(name: NameArgument, config: ConfigOption = None) -> None:
        body = call(config, "POST", f"/api/deployments/{name}/{action}")
        desired = body.get("desired") or {}
        typer.echo(f"{name}: {action} done; desired state {desired.get('state')} "
                   f"(source {desired.get('source')})")

    app.command(action, help=doc)(command)


_action_command("start", "Start a deployment and record that it should run.")
_action_command("stop", "Stop a deployment; stackmedic will leave it stopped.")
_action_command("restart", "Restart a deployment and record that it should run.")
_action_command("down", "Remove a deployment's containers; stackmedic will leave it stopped.")


def event_kind(kind: str) -> str:
    """``--kind`` checked against the event log's kinds; a usage error (exit 2) naming them."""
    from stackmedic.types import EventKind, parse_word

    try:
        return parse_word(EventKind, kind, "event kind").value
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--kind' / '-k'") from None


@app.command()
def events(
    config: ConfigOption = None,
    deployment: Annotated[str | None, typer.Option(
        "--deployment", "-d", help="Only this deployment's events.")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", "-k", help="Only events of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 30,
    as_json: JsonOption = False,
) -> None:
    """The agent's event log, newest last."""
    params: dict[str, Any] = {"limit": limit}
    if deployment:
        params["deployment"] = deployment
    if kind:
        params["kind"] = event_kind(kind)
    body = call(config, "GET", "/api/events", params=params)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    rows = [[local_time(e["ts"]), e["severity"], e["kind"], e["deployment"] or "-",
             e["message"]] for e in reversed(body["items"])]
    typer.echo(render_table(["TIME", "SEVERITY", "KIND", "DEPLOYMENT", "MESSAGE"], rows))


@app.command()
def health(name: NameArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """One deployment's health per container: status, exit code, restarts, OOM, probe output."""
    from stackmedic.cli.health import render_health

    body = call(config, "GET", f"/api/deployments/{name}/health")
    typer.echo(json.dumps(body, indent=2) if as_json else render_health(body))


@app.command()
def diagnose(name: NameArgument, config: ConfigOption = None,
             as_json: JsonOption = False) -> None:
    """What is wrong with a deployment and what stackmedic would do; nothing is changed."""
    from stackmedic.cli.diagnose import render_diagnosis

    body = call(config, "POST", f"/api/deployments/{name}/diagnose")
    typer.echo(json.dumps(body, indent=2) if as_json else render_diagnosis(name, body))
