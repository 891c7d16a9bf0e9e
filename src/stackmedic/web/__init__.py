"""The web dashboard: server-rendered pages served by the agent under ``/``."""

from stackmedic.web.dashboard import Dashboard, install_dashboard

__all__ = ["Dashboard", "install_dashboard"]
