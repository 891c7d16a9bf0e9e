"""Jinja2 templates of the dashboard and the headers every dashboard answer carries."""

from __future__ import annotations

import socket
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from stackmedic import __version__
from stackmedic.health.model import first_line
from stackmedic.web.formatting import ago, iso, percent, size, to_timestamp, verdict_tone, when
from stackmedic.web.sessions import Session

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
    """Renders dashboard pages from the package's templates."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("stackmedic.web", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            ago=lambda ts: ago(to_timestamp(ts)), when=when, iso=lambda ts: iso(to_timestamp(ts)),
            ts=to_timestamp, size=size, percent=percent, tone=verdict_tone, first_line=first_line,
        )
        self.env.globals.update(version=__version__, host=socket.gethostname())
        self.env.globals.update(host_summary=lambda: "", host_problems=lambda: [])

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
