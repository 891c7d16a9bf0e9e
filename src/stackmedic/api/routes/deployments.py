"""Deployments: list, detail, and the start/stop/restart/down actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from stackmedic.api.openapi import documented_methods
from stackmedic.api.params import NameParam, invalid
from stackmedic.deployments.actions import Action, ComposeUnavailable, UnknownDeployment
from stackmedic.deployments.names import InvalidName, validate_name
from stackmedic.engine.compose import ComposeError
from stackmedic.readmodel import agent_view
from stackmedic.views import deployment_detail, deployment_row

router = APIRouter(tags=["deployments"])

__all__ = ["NameParam", "checked_name", "router"]


def checked_name(request: Request, name: str, where: str = "path.name") -> str:
    """Validate ``name`` (422) and make sure the deployment exists (404)."""
    try:
        validate_name(name)
    except InvalidName as exc:
        raise invalid(where, str(exc)) from None
    if agent_view(request).catalog.get(name) is None:
        raise HTTPException(404, detail=f"no deployment named {name!r}")
    return name


@router.get("/deployments", summary="Every deployment with desired and observed state")
async def list_deployments(request: Request) -> dict[str, Any]:
    """One row per deployment."""
    agent = agent_view(request)
    rows = [deployment_row(agent, d) for d in sorted(agent.catalog.deployments.values(),
                                                         key=lambda d: d.name)]
    return {"items": rows}


@router.get("/deployments/{name}", summary="One deployment: services, containers, states")
async def get_deployment(request: Request, name: NameParam) -> dict[str, Any]:
    """Definition, desired state, and every container's observed state."""
    agent = agent_view(request)
    return deployment_detail(agent, agent.catalog.get(checked_name(request, name)))


async def _act(request: Request, name: str, action: Action) -> dict[str, Any]:
    agent = agent_view(request)
    checked_name(request, name)
    source = request.headers.get("X-Stackmedic-Source", "api")
    if source not in ("api", "cli", "web"):
        source = "api"
    try:
        result = await agent.actions.perform(name, action, source)
    except UnknownDeployment:
        raise HTTPException(404, detail=f"no deployment named {name!r}") from None
    except ComposeUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from None
    except ComposeError as exc:
        raise HTTPException(
            502, detail={"message": f"docker compose failed: {exc}", "stderr": exc.stderr}
        ) from None
    desired = agent.desired.get(name)
    return {
        "deployment": name,
        "action": action.value,
        "desired": desired.as_dict() if desired else None,
        "output": result.stderr.strip()[-4000:],
    }


@router.post("/deployments/{name}/start", summary="Record desired running, then start")
async def start(request: Request, name: NameParam) -> dict[str, Any]:
    """``docker compose up -d`` after recording the intent."""
    return await _act(request, name, Action.START)


@router.post("/deployments/{name}/stop", summary="Record desired stopped, then stop")
async def stop(request: Request, name: NameParam) -> dict[str, Any]:
    """``docker compose stop``; stackmedic then leaves it stopped."""
    return await _act(request, name, Action.STOP)


@router.post("/deployments/{name}/restart", summary="Record desired running, then restart")
async def restart(request: Request, name: NameParam) -> dict[str, Any]:
    """``docker compose restart`` (or ``up -d`` when nothing exists yet)."""
    return await _act(request, name, Action.RESTART)


@router.post("/deployments/{name}/down", summary="Record desired stopped, then remove")
async def down(request: Request, name: NameParam) -> dict[str, Any]:
    """``docker compose down``; stackmedic then leaves it stopped."""
    return await _act(request, name, Action.DOWN)


def register_fallback(router: APIRouter) -> None:
    """Answer 422 (bad name) or 404 for deployment paths no route matched.

    Must be added after every other ``/deployments/...`` route: a name holding ``/`` or
    ``..`` never matches a route, and the user should hear that the name is invalid.
    """

    @router.api_route(
        "/deployments/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def unmatched(request: Request, rest: str) -> JSONResponse:
        allowed = documented_methods(request.app, request.url.path)
        if allowed:
            return JSONResponse({"detail": "method not allowed"}, status_code=405,
                                headers={"Allow": ", ".join(sorted(allowed))})
        name = rest.rsplit("/", 1)[0] if "/" in rest else rest
        try:
            validate_name(name)
        except InvalidName as exc:
            raise invalid("path.name", str(exc)) from None
        raise HTTPException(404, detail=f"no such path under deployment {name!r}")

