"""``stackmedic``: run the agent, look at deployments, and act on them through the agent."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stackmedic.cli.address import AddressProblem, resolve_address
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time

if TYPE_CHECKING:
    from stackmedic.cli.client import AgentClient
    from stackmedic.config.model import Settings

# Start-up time is the CLI's first feature: a command that talks to the agent imports Typer
# (and the pydantic core Typer coerces parameters with), the standard library's HTTP client
# and the small address reader (cli/address.py), nothing else. Parameters are plain str, int,
# float and bool, which Typer coerces cheaply; rich help, pretty tracebacks and completion
# are off because each would import rich. The configuration schema, the agent and its web
# stack are imported only by `run`, `config check` and `config example`, inside them.

app = typer.Typer(help="stackmedic keeps Docker Compose deployments alive.",
                  no_args_is_help=True, rich_markup_mode=None, add_completion=False,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True,
                         rich_markup_mode=None)
notify_app = typer.Typer(help="Notification channels and their outbox.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")
app.add_typer(notify_app, name="notify")

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", metavar="FILE", show_default=False,
                 help="YAML config file (default: $STACKMEDIC_CONFIG)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def config_file(config: str | None) -> Path | None:
    """The ``--config`` value as a path; a usage error (exit 2) when it names a folder."""
    if config is None:
        return None
    path = Path(config)
    if path.is_dir():
        raise typer.BadParameter(f"File {config!r} is a directory.",
                                 param_hint="'--config' / '-c'")
    return path


def _settings(config: str | None, *, channels: bool = False) -> Settings:
    from stackmedic.config.loader import ConfigError, check_channels, load_settings

    try:
        settings = load_settings(config_file(config))
        if channels:
            check_channels(settings)
        return settings
    except ConfigError as exc:
        typer.echo(exc.render(), err=True)
        sys.exit(2)


def agent_client(config: str | None, *, timeout: float = 330) -> AgentClient:
    """A client of the agent named by the config and environment; exit 2 if they are bad."""
    from stackmedic.cli.client import AgentClient

    try:
        return AgentClient(resolve_address(config_file(config)), timeout=timeout)
    except AddressProblem as exc:
        typer.echo(f"invalid configuration: {exc}", err=True)
        sys.exit(2)


def _call(config: str | None, method: str, path: str, **kwargs: Any) -> Any:
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


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C."""
    from stackmedic.agent import run as run_agent
    from stackmedic.config.permissions import warn_about_permissions
    from stackmedic.logs import configure_logging

    settings = _settings(config, channels=True)
    configure_logging(settings.log_level, settings.log_format)
    warn_about_permissions(config_file(config))
    try:
        run_agent(settings)
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration without starting; exit 2 naming each problem."""
    from stackmedic.auth import writable_by_others
    from stackmedic.config.permissions import config_path

    settings = _settings(config, channels=True)
    typer.echo(f"configuration is valid; deployments from {settings.deployments_path}, "
               f"data in {settings.data_dir}, API on {settings.api.host}:{settings.api.port}")
    for path in (config_path(config_file(config)), settings.resolved_token_file,
                 settings.resolved_read_token_file):
        if path is not None and writable_by_others(path):
            typer.echo(f"warning: {path} is writable by other users (chmod go-w {path})",
                       err=True)


@config_app.command("example")
def config_example() -> None:
    """Print a config file holding every key with its default and what it does."""
    from stackmedic.config.example import render_example

    typer.echo(render_example(), nl=False)


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """A table of deployments: desired vs observed state and health."""
    body = _call(config, "GET", "/api/deployments")
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


NameArgument = Annotated[str, typer.Argument(metavar="NAME", show_default=False)]


def _action_command(action: str, doc: str) -> None:
    """Register ``stackmedic ACTION NAME``, which asks the agent to act on a deployment."""

    def command(name: NameArgument, config: ConfigOption = None) -> None:
        body = _call(config, "POST", f"/api/deployments/{name}/{action}")
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
    body = _call(config, "GET", "/api/events", params=params)
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

    body = _call(config, "GET", f"/api/deployments/{name}/health")
    typer.echo(json.dumps(body, indent=2) if as_json else render_health(body))


@app.command()
def diagnose(name: NameArgument, config: ConfigOption = None,
             as_json: JsonOption = False) -> None:
    """What is wrong with a deployment and what stackmedic would do; nothing is changed."""
    from stackmedic.cli.diagnose import render_diagnosis

    body = _call(config, "POST", f"/api/deployments/{name}/diagnose")
    typer.echo(json.dumps(body, indent=2) if as_json else render_diagnosis(name, body))


@notify_app.command("test")
def notify_test(
    channel: Annotated[str | None, typer.Argument(metavar="CHANNEL", show_default=False)]
    = None,
    config: ConfigOption = None,
) -> None:
    """Send a test message through CHANNEL, or all channels, and say how each went."""
    body = _call(config, "POST", "/api/notifications/test",
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
    body = _call(config, "GET", "/api/notifications", params={"limit": limit})
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
    body = _call(config, "POST", "/api/silences",
                 json={"deployment": deployment, "hours": hours, "reason": reason})
    typer.echo(f"silenced {deployment} until {local_time(body.get('ends_at'))} "
               f"(silence {body.get('id')})")


@app.command()
def unsilence(
    silence_id: Annotated[int, typer.Argument(metavar="SILENCE_ID", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    _call(config, "DELETE", f"/api/silences/{silence_id}")
    typer.echo(f"silence {silence_id} ended")


def main() -> None:
    """Console-script entry point."""
    app()


import stackmedic.cli.check  # noqa: E402, F401  (registers `stackmedic check`)
