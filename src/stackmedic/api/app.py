"""Build the FastAPI application around a running agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from stackmedic import __version__
from stackmedic.api.routes import (
    deployments,
    events,
    notifications,
    recoveries,
    resources,
    system,
)
from stackmedic.api.routes import health as health_routes
from stackmedic.api.routes import metrics as metrics_routes
from stackmedic.api.security import require_token
from stackmedic.web import install_dashboard

if TYPE_CHECKING:
    from stackmedic.agent import Agent

log = structlog.get_logger(__name__)


def create_app(agent: Agent) -> FastAPI:
    """The app: open ``/healthz`` and ``/metrics``, token-protected ``/api``."""
    app = FastAPI(
        title="stackmedic",
        version=__version__,
        description="Keeps Docker Compose deployments alive and tells people what happens.",
    )
    app.state.agent = agent
    app.include_router(system.router)
    protected = [Depends(require_token)]
    app.include_router(deployments.router, prefix="/api", dependencies=protected)
    app.include_router(events.router, prefix="/api", dependencies=protected)
    app.include_router(health_routes.router, prefix="/api", dependencies=protected)
    app.include_router(recoveries.router, prefix="/api", dependencies=protected)
    app.include_router(resources.router, prefix="/api", dependencies=protected)
    app.include_router(notifications.router, prefix="/api", dependencies=protected)
    app.include_router(
        metrics_routes.router, dependencies=[] if agent.settings.api.metrics_public else protected
    )
    install_dashboard(app)

    # Keep last: it answers for deployment paths that no route above matched.
    fallback = APIRouter()
    deployments.register_fallback(fallback)
    app.include_router(fallback, prefix="/api", dependencies=protected)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            {"detail": "invalid request", "problems": problems}, status_code=422
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", path=request.url.path)
        return JSONResponse(
            {"detail": f"internal error: {type(exc).__name__}"}, status_code=500
        )

    return app
