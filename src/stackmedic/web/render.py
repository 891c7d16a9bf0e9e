"""Jinja2 templates of the dashboard and the headers every dashboard answer carries."""

from __future__ import annotations

import socket
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse

from stackmedic import __version__
from stackmedic.health.model import first_line
from stackmedic.web.formatting import ago, iso, percent, size, to_timestamp, verdict_tone, when
from stackmedic.web.sessions import Session

if TYPE_CHECKING:
    from jinja2 import Environment

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Renderer:
    """Renders dashboard pages from the package's templates.

    Jinja2 is loaded, and the environment built, at the first page served, so an agent
    whose dashboard nobody opens does not hold it; until then ``globals`` collects the names
    every template sees, and afterwards it is the environment's own globals.
    """

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {
            "version": __version__, "host": socket.gethostname(),
            "host_summary": lambda: "", "host_problems": lambda: [],
        }

    @cached_property
    def env(self) -> Environment:
        """The Jinja2 environment of the dashboard templates."""
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        env = Environment(
            loader=PackageLoader("stackmedic.web", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            ago=lambda ts: ago(to_timestamp(ts)), when=when, iso=lambda ts: iso(to_timestamp(ts)),
            ts=to_timestamp, size=size, percent=percent, tone=verdict_tone, first_line=first_line,
        )
        env.globals.update(self.globals)
        self.globals = env.globals
        return env

    def fragment(self, template: str, context: dict[str, Any]) -> str:
        """Part of a page, as HTML text, for a live update."""
        return self.env.get_template(template).render(**context)

    def page(
        self,
        template: str,
        context: dict[str, Any],
        *,
        session: Session | None = None,
        status: int = 200,
        nav: str = "",
    ) -> HTMLResponse:
        """A full HTML page; a session's queued messages are shown once."""
        body = self.env.get_template(template).render(
            **context,
            session=session,
            csrf=session.csrf if session else "",
            flashes=session.take_flashes() if session else [],
            nav=nav,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
