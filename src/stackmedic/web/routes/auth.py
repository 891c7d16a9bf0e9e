"""Log in with the API token, log out."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from stackmedic.auth import Scope, tokens_of
from stackmedic.readmodel import agent_view
from stackmedic.types import EventKind, Severity
from stackmedic.web.csrf import cross_site_reason
from stackmedic.web.guard import (
    Posted,
    Refused,
    current_session,
    dashboard,
    posted,
    safe_next,
)
from stackmedic.web.sessions import COOKIE_NAME

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "stackmedic_login"
NONCE = re.compile(r"[A-Za-z0-9_-]{32}")


def _login_form(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    """The login page with a login CSRF value in the form and in a cookie.

    The value is kept while the cookie lives, so several open login tabs all work.
    """
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if not NONCE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(24)
    response = dashboard(request).renderer.page(
        "login.html", {"next": next_path, "nonce": nonce, "error": error}, status=status
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, httponly=True, samesite="strict", path="/login",
        secure=request.url.scheme == "https", max_age=3600,
    )
    return response


@router.get("/login")
async def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    """The login form; a browser already logged in goes on to where it wanted."""
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_form(request, safe_next(next_path))


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    nonce: Annotated[str, Form(max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Check the token; on success start a session and set its cookie."""
    reason = cross_site_reason(request.headers)
    expected_nonce = request.cookies.get(LOGIN_COOKIE, "")
    if reason is not None:
        raise Refused(reason)
    if not expected_nonce or not hmac.compare_digest(nonce.encode(), expected_nonce.encode()):
        raise Refused("the login form expired or came from elsewhere; load it again")
    client = request.client.host if request.client else "unknown"
    logins = dashboard(request).logins
    wait = logins.retry_after(client)
    if wait is not None:
        error = f"Too many failed logins from {client}; try again in {wait} seconds."
        response = _login_form(request, safe_next(next_path), error, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    granted = tokens_of(request).scope_of_token(token)
    if granted is None:
        count = logins.failed(client)
        agent_view(request).events.record(
            EventKind.LOGIN_FAILED, f"failed dashboard login from {client} ({count} recently)",
            severity=Severity.WARNING, data={"client": client, "recent_failures": count},
        )
        error = "That is not this agent's API token (operator or read-only)."
        return _login_form(request, safe_next(next_path), error, 401)
    logins.succeeded(client)
    session = dashboard(request).sessions.create(operator=granted is Scope.OPERATOR)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE_NAME, session.id, httponly=True, samesite="strict", path="/",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request, post: Annotated[Posted, Depends(posted)]) -> Response:
    """End the session and forget its cookie."""
    dashboard(request).sessions.end(post.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
