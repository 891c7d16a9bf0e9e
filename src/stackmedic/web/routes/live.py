"""Small JSON answers the open pages poll to update themselves without reloading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from stackmedic.readmodel import agent_view
from stackmedic.web.guard import PageNotFound, dashboard, data_session
from stackmedic.web.routes.common import known_deployment, services_key
from stackmedic.web.sessions import Session
from stackmedic.web.views.deployment import summary
from stackmedic.web.views.overview import overview

router = APIRouter(prefix="/ui/live", include_in_schema=False)
SessionDep = Annotated[Session, Depends(data_session)]
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def answer(body: dict[str, Any]) -> JSONResponse:
    """A JSON answer that no cache keeps."""
    return JSONResponse(body, headers=HEADERS)


@router.get("/overview")
async def overview_data(request: Request, session: SessionDep) -> JSONResponse:
    """Rows, host figures and banners of the overview."""
    return answer(overview(agent_view(request)))


@router.get("/deployments/{name}")
async def deployment_data(request: Request, name: str, session: SessionDep) -> JSONResponse:
    """Verdict, states and service statuses of one deployment."""
    agent = agent_view(request)
    try:
        deployment = known_deployment(agent, name)
    except PageNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    found = summary(agent, deployment)
    # The container table is rendered here as on the page, so both always agree.
    found["services_html"] = dashboard(request).renderer.fragment(
        "services.html", {"services": found["services"]}
    )
    found["services_key"] = services_key(found["services"])
    found["services"] = [
        {"name": s["name"], "status": s["status"], "tone": s["tone"]} for s in found["services"]
    ]
    return answer(found)
