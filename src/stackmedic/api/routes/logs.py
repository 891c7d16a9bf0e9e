"""Log-pattern fingerprints of a deployment and the state of its followed logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from stackmedic.api.params import NameParam
from stackmedic.api.routes.deployments import checked_name
from stackmedic.logwatch.views import deployment_logs
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["logs"])


@router.get("/deployments/{name}/logs", summary="Top log fingerprints of one deployment")
async def logs(
    request: Request,
    name: NameParam,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict[str, Any]:
    """The deployment's log fingerprints with the most lines (rule, service, first line,
    count, first and last time, triage), which of them fire now, and each container's
    follow state (following, ended, unreadable with why, lines read, lines cut)."""
    watch = agent_view(request).logwatch.watch
    return deployment_logs(watch, checked_name(request, name), limit)
