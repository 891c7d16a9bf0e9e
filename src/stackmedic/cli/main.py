"""``stackmedic``: run the agent, look at deployments, and act on them through the agent."""

from __future__ import annotations

from stackmedic.cli.app import app

# Each module registers its commands on ``app`` as it is imported, so this order is the
# order in which ``stackmedic --help`` lists them. None imports a heavy module at start-up
# (see cli/app.py): the commands that need one import it when they run.
# isort: off
import stackmedic.cli.local
import stackmedic.cli.status
import stackmedic.cli.deployments
import stackmedic.cli.logs
import stackmedic.cli.notify
import stackmedic.cli.check  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
