"""Commands that need no running agent: ``run`` starts one, ``config`` checks or shows its file."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from stackmedic.cli.app import ConfigOption, app, config_app, config_file

if TYPE_CHECKING:
    from stackmedic.config.model import Settings


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


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C."""
    from stackmedic.logs import configure_logging, lean_structlog

    lean_structlog()  # before any module of the agent imports structlog
    from stackmedic.agent import run as run_agent
    from stackmedic.config.permissions import warn_about_permissions

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
