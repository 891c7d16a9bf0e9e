"""Recovery runs, recovery state, and diagnosis on demand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from stackmedic.api.params import BeforeId, NameParam, RowId
from stackmedic.api.routes.deployments import checked_name
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["recovery"])


@router.get("/recoveries", summary="Recent recovery runs, newest first")
async def list_recoveries(
    request: Request,
    deployment: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: BeforeId = None,
) -> dict[str, Any]:
    """Runs with trigger, diagnosis, source, actions and outcome."""
    items = agent_view(request).recovery.runs.list(deployment, limit, before_id)
    return {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/recoveries/{run_id}", summary="One recovery run with its evidence")
async def get_recovery(
    request: Request, run_id: RowId
) -> dict[str, Any]:
    """Everything stored about one run."""
    run: dict[str, Any] | None = agent_view(request).recovery.runs.get(run_id)
    if run is None:
        raise HTTPException(404, detail=f"no recovery run {run_id}")
    return run


@router.get("/deployments/{name}/recovery", summary="Recovery state of one deployment")
async def recovery_state(request: Request, name: NameParam) -> dict[str, Any]:
    """Phase (idle / backoff / gave-up), attempts in the window, next attempt."""
    state: dict[str, Any] = agent_view(request).recovery.state(checked_name(request, name))
    return state


@router.post("/deployments/{name}/diagnose", summary="Diagnose without acting")
async def diagnose(request: Request, name: NameParam) -> dict[str, Any]:
    """The evidence, the diagnosis and the suggested actions; nothing is changed."""
    agent = agent_view(request)
    evidence, diagnosis = await agent.recovery.diagnose(checked_name(request, name))
    return {"deployment": name, "diagnosis": diagnosis.as_dict(),
            "evidence": evidence.as_dict()}
