"""Build the FastAPI application around a running agent."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from stackmedic import __version__
from stackmedic.api.guard import ApiGuard
from stackmedic.api.openapi import documented_methods, install_schema
from stackmedic.api.routes import (
    deployments,
    events,
    notifications,
    recoveries,
    resources,
    system,
)
from stackmedic.api.routes import health as health_routes
from stackmedic.api.routes import logs as logs_routes
from stackmedic.api.routes import metrics as metrics_routes
from stackmedic.api.routes import probes as probe_routes
from stackmedic.api.security import require_token
from stackmedic.api.throttle import TokenThrottle
from stackmedic.auth import Tokens
from stackmedic.readmodel import AgentView
from stackmedic.types import EventKind, Severity
from stackmedic.web import install_dashboard

log = structlog.get_logger(__name__)


def agent_tokens(agent: AgentView) -> Tokens:
    """The agent's operator token and its read-only token (generated on first use)."""
    return Tokens(operator=agent.token, read=agent.read_token)


def create_app(agent: AgentView) -> FastAPI:
    """The app: open ``/healthz`` and ``/metrics``, token-protected ``/api``."""
    # Swagger UI and ReDoc come from a package, so /docs and /redoc work offline.
    app = FastAPIOffline(
        title="stackmedic",
        version=__version__,
        description="Keeps Docker Compose deployments alive and tells people what happens.",
    )
    app.state.agent = agent
    app.state.tokens = agent_tokens(agent)
    metrics_public = agent.settings.api.metrics_public
    app.include_router(system.router)
    protected = [Depends(require_token)]
    app.include_router(deployments.router, prefix="/api", dependencies=protected)
    app.include_router(events.router, prefix="/api", dependencies=protected)
    app.include_router(health_routes.router, prefix="/api", dependencies=protected)
    app.include_router(recoveries.router, prefix="/api", dependencies=protected)
    app.include_router(resources.router, prefix="/api", dependencies=protected)
    app.include_router(notifications.router, prefix="/api", dependencies=protected)
    app.include_router(logs_routes.router, prefix="/api", dependencies=protected)
    app.include_router(probe_routes.router, prefix="/api", dependencies=protected)
    app.include_router(
        metrics_routes.router, dependencies=[] if metrics_public else protected
    )
    install_dashboard(app, agent)

    # Keep last: it answers for deployment paths that no route above matched.
    fallback = APIRouter()
    deployments.register_fallback(fallback)
    app.include_router(fallback, prefix="/api", dependencies=protected)

    def protected_path(path: str) -> bool:
        return path.startswith("/api/") or path == "/api" or (
            path == "/metrics" and not metrics_public)

    def wrong_tokens(client: str, count: int, wait: int) -> None:
        log.warning("wrong API tokens refused", client=client, count=count, retry_after=wait)
        agent.events.record(
            EventKind.API_TOKEN_REFUSED,
            f"{count} wrong API tokens from {client} within {window:g} s; its wrong tokens "
            f"get 429 for {wait} s (a right token still passes)",
            severity=Severity.WARNING, data={"client": client, "wrong_tokens": count,
                                      "retry_after": wait})

    window = agent.settings.api.login_window_seconds
    app.add_middleware(
        ApiGuard,
        throttle=TokenThrottle(agent.settings.api.login_attempts, window, wrong_tokens),
        tokens=lambda: app.state.tokens,
        max_body=agent.settings.api.max_body_bytes,
        protected=protected_path,
        methods=lambda path: documented_methods(app, path),
    )
    install_schema(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_body(exc.errors()), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", path=request.url.path)
        return JSONResponse(
            {"detail": f"internal error: {type(exc).__name__}"}, status_code=500
        )

    return app


def invalid_body(errors: Any) -> dict[str, Any]:
    """The 422 answer: the first problem in words, then every problem with where it is."""
    problems = [
        {"where": ".".join(str(p) for p in e["loc"]), "problem": str(e["msg"])}
        for e in errors
    ]
    first = f"{problems[0]['where']}: {problems[0]['problem']}" if problems else "invalid"
    return {"detail": f"invalid request: {first}", "problems": problems}
