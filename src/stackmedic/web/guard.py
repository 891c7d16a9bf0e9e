"""Who may see and change what: session lookup and CSRF checks as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from stackmedic.web.csrf import CSRF_FIELD, cross_site_reason
from stackmedic.web.sessions import COOKIE_NAME, Session

if TYPE_CHECKING:
    from stackmedic.web.dashboard import Dashboard


class LoginRequired(Exception):
    """No valid session: a page sends the browser to the login form."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Refused(Exception):
    """A state-changing request that did not come from this dashboard."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PageNotFound(Exception):
    """A page about something that does not exist."""


@dataclass(frozen=True)
class Posted:
    """A checked POST: its session and its form fields."""

    session: Session
    form: FormData

    def field(self, name: str) -> str:
        """A text field's value, empty when absent."""
        value = self.form.get(name)
        return value if isinstance(value, str) else ""


def dashboard(request: Request) -> Dashboard:
    """The dashboard state kept on the app."""
    found: Dashboard = request.app.state.dashboard
    return found


def current_session(request: Request) -> Session | None:
    """The session named by the request's cookie, if it is live."""
    return dashboard(request).sessions.get(request.cookies.get(COOKIE_NAME))


async def page_session(request: Request) -> Session:
    """Dependency of pages: the session, or a redirect to the login form."""
    session = current_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


async def data_session(request: Request) -> Session:
    """Dependency of the dashboard's JSON endpoints: the session, or 401."""
    session = current_session(request)
    if session is None:
        raise HTTPException(401, detail="log in to the dashboard first")
    return session


async def posted(request: Request) -> Posted:
    """Dependency of every dashboard POST: same origin, a session and its CSRF token."""
    reason = cross_site_reason(request.headers)
    if reason is not None:
        raise Refused(reason)
    session = current_session(request)
    if session is None:
        raise LoginRequired("/")
    form = await request.form()
    if not session.csrf_matches(_text(form.get(CSRF_FIELD))):
        raise Refused("the form's CSRF token is missing or wrong; reload the page and retry")
    if not session.operator and request.url.path != "/logout":
        raise Refused("this login may only look; log in with the operator token to act")
    return Posted(session, form)


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def login_redirect(request: Request, exc: Exception) -> Response:
    """Exception handler: send the browser to the login form, remembering where it was."""
    target = exc.next_path if isinstance(exc, LoginRequired) else "/"
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    return RedirectResponse(location, status_code=303)


async def refused(request: Request, exc: Exception) -> Response:
    """Exception handler: 403 with a page saying why."""
    reason = exc.reason if isinstance(exc, Refused) else "refused"
    page: HTMLResponse = dashboard(request).renderer.page(
        "refused.html", {"reason": reason}, status=403
    )
    return page


async def not_found(request: Request, exc: Exception) -> Response:
    """Exception handler: 404 with a page saying what is missing."""
    page: HTMLResponse = dashboard(request).renderer.page(
        "notfound.html", {"message": str(exc)}, session=current_session(request), status=404
    )
    return page


# Paths whose 404 stays JSON: they are for programs, not for people in a browser.
MACHINE_PATHS = ("/api/", "/metrics", "/healthz", "/openapi.json", "/static", "/docs", "/redoc")


async def unknown_path(request: Request, exc: Exception) -> Response:
    """Exception handler for 404: an HTML page on dashboard paths, JSON elsewhere."""
    path = request.url.path
    if isinstance(exc, StarletteHTTPException) and (
        path == "/api" or path.startswith(MACHINE_PATHS)
    ):
        return await http_exception_handler(request, exc)
    page: HTMLResponse = dashboard(request).renderer.page(
        "notfound.html", {"message": "There is no page at this address."},
        session=current_session(request), status=404,
    )
    return page


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
