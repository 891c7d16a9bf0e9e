"""Host and container resources, their history, and spike alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from stackmedic.api.params import NameParam
from stackmedic.api.routes.deployments import checked_name
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["resources"])


@router.get("/resources", summary="Host and every container, now")
async def current(request: Request) -> dict[str, Any]:
    """CPU, memory and disk of the host; CPU and memory of each sampled container.

    ``oom_kills`` is counted per service across container recreation (each kill once): on
    each container it is its service's count, and the top-level ``oom_kills`` list holds
    every service with kills, running or not.
    """
    agent = agent_view(request)
    result: dict[str, Any] = agent.resources.current()
    result["oom_kills"] = [
        {"deployment": deployment.name, "service": row["service"], "kills": row["kills"],
         "last_at": row["last_at"]}
        for row in agent.exits.oom_counts()
        if (deployment := agent.catalog.by_project(row["project"])) is not None
    ]
    return result


@router.get("/deployments/{name}/resources", summary="Resource series of one deployment")
async def series(
    request: Request,
    name: NameParam,
    since: Annotated[
        float | None,
        Query(description="Unix time; default: one hour ago", allow_inf_nan=False, ge=0, le=1e11),
    ] = None,
    resolution: Literal["auto", "raw", "minute"] = "auto",
) -> dict[str, Any]:
    """CPU and memory points per container since ``since``."""
    result: dict[str, Any] = agent_view(request).resources.series(
        checked_name(request, name), since, resolution=resolution
    )
    return result


@router.get("/alerts", summary="Spike alerts and their state")
async def alerts(
    request: Request,
    state: Literal["pending", "firing", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Current and recent alerts, optionally filtered by state."""
    return {"items": agent_view(request).resources.alerts(state, limit=limit)}
