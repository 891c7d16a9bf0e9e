"""Deployment health: verdicts, per-container detail and transition history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from stackmedic.api.params import MAX_ROW_ID, NameParam
from stackmedic.api.routes.deployments import checked_name
from stackmedic.api.routes.probes import probes_of
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["health"])


@router.get("/health", summary="Every deployment's verdict, reason and service statuses")
async def health_overview(request: Request) -> dict[str, Any]:
    """One summary per deployment, plus whether Docker is reachable."""
    agent = agent_view(request)
    return {
        "docker": {
            "reachable": agent.engine.status.reachable,
            "events_connected": agent.stream.connected.is_set(),
            "last_sweep": agent.monitor.last_sweep,
        },
        "items": agent.health.overview(),
    }


@router.get("/deployments/{name}/health", summary="One deployment's health, per container")
async def deployment_health(request: Request, name: NameParam) -> dict[str, Any]:
    """Verdict and reason with every container's status, health probe output and exit code."""
    agent = agent_view(request)
    detail: dict[str, Any] = agent.health.detail(checked_name(request, name))
    return detail | probes_of(agent.probes, name)


@router.get("/deployments/{name}/health/history", summary="Health transitions, newest first")
async def deployment_health_history(
    request: Request,
    name: NameParam,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Only ids below this one")
    ] = None,
) -> dict[str, Any]:
    """Each change of verdict or service status with its time; page with ``before``."""
    items = agent_view(request).health.history(
        checked_name(request, name), limit=limit, before=before
    )
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}
