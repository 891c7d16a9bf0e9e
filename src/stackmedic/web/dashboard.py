"""The dashboard as a whole: its state on the app and how it is added to the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from stackmedic.readmodel import AgentView
from stackmedic.web.guard import (
    LoginRequired,
    PageNotFound,
    Refused,
    login_redirect,
    not_found,
    refused,
    unknown_path,
)
from stackmedic.web.render import Renderer
from stackmedic.web.routes import actions, auth, live, pages
from stackmedic.web.sessions import SessionStore
from stackmedic.web.throttle import LoginThrottle

STATIC = Path(__file__).parent / "static"
ROUTERS = (auth.router, pages.router, live.router, actions.router)


@dataclass
class Dashboard:
    """What the dashboard keeps while the agent runs: sessions and templates."""

    sessions: SessionStore = field(default_factory=SessionStore)
    renderer: Renderer = field(default_factory=Renderer)
    logins: LoginThrottle = field(default_factory=lambda: LoginThrottle(10, 60))


def install_dashboard(app: FastAPI, agent: AgentView) -> Dashboard:
    """Serve the dashboard from ``app``: pages under ``/``, files under ``/static``."""
    api = agent.settings.api
    found = Dashboard(logins=LoginThrottle(api.login_attempts, api.login_window_seconds))
    app.state.dashboard = found
    # The same host name as in notifications, alerts and /metrics.
    found.renderer.globals["host"] = agent.settings.notifications.host_name()
    host_report = agent.host_report
    found.renderer.globals.update(
        host_summary=host_report.summary,
        host_problems=lambda: host_report.report().problems,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(LoginRequired, login_redirect)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(PageNotFound, not_found)
    app.add_exception_handler(404, unknown_path)
    return found
