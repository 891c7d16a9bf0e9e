"""``stackmedic``: run the agent, look at deployments, and act on them through the agent."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stackmedic.cli.address import AddressProblem, resolve_address
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time

if TYPE_CHECKING:
    from stackmedic.cli.client import AgentClient
    from stackmedic.config.model import Settings

# Start-up time is the CLI's first feature: a command that talks to the agent imports click,
# the standard library's HTTP client and the small address reader (cli/address.py), nothing
# else. The configuration schema (pydantic), the agent and its web stack are imported only
# by `run`, `config check` and `config example`, inside those commands.

F = TypeVar("F", bound=Callable[..., Any])


@click.group(help="stackmedic keeps Docker Compose deployments alive.")
def app() -> None:
    """The command group."""


@app.group("config")
def config_app() -> None:
    """Inspect the configuration."""


@app.group("notify")
def notify_app() -> None:
    """Notification channels and their outbox."""


def config_option(function: F) -> F:
    """``--config/-c``: the YAML config file."""
    return click.option(
        "--config", "-c", default=None,
        type=click.Path(dir_okay=False, path_type=Path),
        help="YAML config file (default: $STACKMEDIC_CONFIG).")(function)


def json_option(function: F) -> F:
    """``--json``: print the API's answer as it came."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the API's JSON answer.")(function)


def _settings(config: Path | None, *, channels: bool = False) -> Settings:
    from stackmedic.config.loader import ConfigError, check_channels, load_settings

    try:
        settings = load_settings(config)
        if channels:
            check_channels(settings)
        return settings
    except ConfigError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(2)


def agent_client(config: Path | None, *, timeout: float = 330) -> AgentClient:
    """A client of the agent named by the config and environment; exit 2 if they are bad."""
    from stackmedic.cli.client import AgentClient

    try:
        return AgentClient(resolve_address(config), timeout=timeout)
    except AddressProblem as exc:
        click.echo(f"invalid configuration: {exc}", err=True)
        sys.exit(2)


def _call(config: Path | None, method: str, path: str, **kwargs: Any) -> Any:
    from stackmedic.cli.client import AgentUnavailable, ApiError

    client = agent_client(config)
    try:
        return client.request(method, path, **kwargs)
    except AgentUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except ApiError as exc:
        detail = exc.detail
        if isinstance(detail, dict):
            detail = detail.get("message", "") + (
                f"\n{detail['stderr']}" if detail.get("stderr") else "")
        click.echo(f"error ({exc.status}): {detail}", err=True)
        sys.exit(1)


@app.command()
@config_option
def run(config: Path | None) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C."""
    from stackmedic.agent import run as run_agent
    from stackmedic.config.permissions import warn_about_permissions
    from stackmedic.logs import configure_logging

    settings = _settings(config, channels=True)
    configure_logging(settings.log_level, settings.log_format)
    warn_about_permissions(config)
    try:
        run_agent(settings)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@config_app.command("check")
@config_option
def config_check(config: Path | None) -> None:
    """Validate the configuration without starting; exit 2 naming each problem."""
    from stackmedic.auth import writable_by_others
    from stackmedic.config.permissions import config_path

    settings = _settings(config, channels=True)
    click.echo(f"configuration is valid; deployments from {settings.deployments_path}, "
               f"data in {settings.data_dir}, API on {settings.api.host}:{settings.api.port}")
    for path in (config_path(config), settings.resolved_token_file,
                 settings.resolved_read_token_file):
        if path is not None and writable_by_others(path):
            click.echo(f"warning: {path} is writable by other users (chmod go-w {path})",
                       err=True)


@config_app.command("example")
def config_example() -> None:
    """Print a config file holding every key with its default and what it does."""
    from stackmedic.config.example import render_example

    click.echo(render_example(), nl=False)


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


@app.command()
@config_option
@json_option
def status(config: Path | None, as_json: bool) -> None:
    """A table of deployments: desired vs observed state and health."""
    body = _call(config, "GET", "/api/deployments")
    if as_json:
        click.echo(json.dumps(body, indent=2))
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
        click.echo("no deployments found")
    else:
        click.echo(render_table(
            ["DEPLOYMENT", "DESIRED", "SOURCE", "OBSERVED", "HEALTH", "UP", "REASON"], rows))
    _echo_host_block(config)


def _echo_host_block(config: Path | None) -> None:
    """The host block of ``status``: engine, cgroups, resource source, Compose, problems."""
    from stackmedic.cli.client import AgentUnavailable
    from stackmedic.hostinfo.model import report_lines

    try:
        _, body = agent_client(config).exchange("GET", "/healthz")  # a 503 carries it too
    except AgentUnavailable:
        return
    host = body.get("host") if isinstance(body, dict) else None
    if isinstance(host, dict):
        click.echo("")
        click.echo("\n".join(report_lines(host)))


def _action_command(action: str, doc: str) -> None:
    """Register ``stackmedic ACTION NAME``, which asks the agent to act on a deployment."""

    @config_option
    @click.argument("name")
    def command(name: str, config: Path | None) -> None:
        body = _call(config, "POST", f"/api/deployments/{name}/{action}")
        desired = body.get("desired") or {}
        click.echo(f"{name}: {action} done; desired state {desired.get('state')} "
                   f"(source {desired.get('source')})")

    app.command(action, help=doc)(command)


_action_command("start", "Start a deployment and record that it should run.")
_action_command("stop", "Stop a deployment; stackmedic will leave it stopped.")
_action_command("restart", "Restart a deployment and record that it should run.")
_action_command("down", "Remove a deployment's containers; stackmedic will leave it stopped.")


@app.command()
@config_option
@click.option("--deployment", "-d", default=None, help="Only this deployment's events.")
@click.option("--kind", "-k", default=None, help="Only events of this kind.")
@click.option("--limit", "-n", default=30, show_default=True, type=click.IntRange(1, 1000))
@json_option
def events(config: Path | None, deployment: str | None, kind: str | None, limit: int,
           as_json: bool) -> None:
    """The agent's event log, newest last."""
    params: dict[str, Any] = {"limit": limit}
    if deployment:
        params["deployment"] = deployment
    if kind:
        params["kind"] = kind
    body = _call(config, "GET", "/api/events", params=params)
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    rows = [[local_time(e["ts"]), e["severity"], e["kind"], e["deployment"] or "-",
             e["message"]] for e in reversed(body["items"])]
    click.echo(render_table(["TIME", "SEVERITY", "KIND", "DEPLOYMENT", "MESSAGE"], rows))


@app.command()
@click.argument("name")
@config_option
@json_option
def health(name: str, config: Path | None, as_json: bool) -> None:
    """One deployment's health per container: status, exit code, restarts, OOM, probe output."""
    from stackmedic.cli.health import render_health

    body = _call(config, "GET", f"/api/deployments/{name}/health")
    click.echo(json.dumps(body, indent=2) if as_json else render_health(body))


@app.command()
@click.argument("name")
@config_option
@json_option
def diagnose(name: str, config: Path | None, as_json: bool) -> None:
    """What is wrong with a deployment and what stackmedic would do; nothing is changed."""
    from stackmedic.cli.diagnose import render_diagnosis

    body = _call(config, "POST", f"/api/deployments/{name}/diagnose")
    click.echo(json.dumps(body, indent=2) if as_json else render_diagnosis(name, body))


@notify_app.command("test")
@click.argument("channel", required=False)
@config_option
def notify_test(channel: str | None, config: Path | None) -> None:
    """Send a test message through CHANNEL, or all channels, and say how each went."""
    body = _call(config, "POST", "/api/notifications/test",
                 json={"channel": channel} if channel else {})
    failed = 0
    for item in body["items"]:
        if item["ok"]:
            click.echo(f"{item['channel']} ({item['kind']}): sent in "
                       f"{item['duration_seconds']:.2f}s")
        else:
            failed += 1
            click.echo(f"{item['channel']} ({item['kind']}): FAILED: {item['error']}")
    if not body["items"]:
        click.echo("error: no notification channels are configured, so nothing was sent "
                   "(add one under `notifications.channels`)", err=True)
        sys.exit(1)
    if failed:
        sys.exit(1)


@notify_app.command("list")
@config_option
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 500))
def notify_list(config: Path | None, limit: int) -> None:
    """Recent notifications with their delivery status per channel."""
    body = _call(config, "GET", "/api/notifications", params={"limit": limit})
    rows = []
    for n in reversed(body["items"]):
        deliveries = ", ".join(f"{d['channel']}:{d['status']}" for d in n["deliveries"])
        rows.append([local_time(n["created_at"]), n["severity"], n["deployment"] or "-",
                     n["title"][:60], deliveries or n["state"]])
    click.echo(render_table(["TIME", "SEVERITY", "DEPLOYMENT", "TITLE", "DELIVERIES"], rows))


@app.command()
@click.argument("deployment")
@click.option("--hours", "-h", default=1.0, show_default=True,
              type=click.FloatRange(min=0.01, max=8784), help="How long the silence lasts.")
@click.option("--reason", "-r", default="", help="Why (shown with the silence).")
@config_option
def silence(deployment: str, hours: float, reason: str, config: Path | None) -> None:
    """Hold notifications for DEPLOYMENT ('*' for all) for some hours (a maintenance window)."""
    body = _call(config, "POST", "/api/silences",
                 json={"deployment": deployment, "hours": hours, "reason": reason})
    click.echo(f"silenced {deployment} until {local_time(body.get('ends_at'))} "
               f"(silence {body.get('id')})")


@app.command()
@click.argument("silence_id", type=int)
@config_option
def unsilence(silence_id: int, config: Path | None) -> None:
    """End a silence now."""
    _call(config, "DELETE", f"/api/silences/{silence_id}")
    click.echo(f"silence {silence_id} ended")


def main() -> None:
    """Console-script entry point."""
    app()


import stackmedic.cli.check  # noqa: E402, F401  (registers `stackmedic check`)
