"""The Typer application, its ``config`` and ``notify`` groups, and the options commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
NameArgument = Annotated[str, typer.Argument(metavar="NAME", show_default=False)]


def config_file(config: str | None) -> Path | None:
    """The ``--config`` value as a path; a usage error (exit 2) when it names a folder."""
    if config is None:
        return None
    path = Path(config)
    if path.is_dir():
        raise typer.BadParameter(f"File {config!r} is a directory.",
                                 param_hint="'--config' / '-c'")
    return path
