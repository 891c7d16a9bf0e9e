"""The agent's event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from stackmedic.api.params import BeforeId, UnixTime
from stackmedic.readmodel import agent_view
from stackmedic.store.events import EventQuery

router = APIRouter(tags=["events"])


@router.get("/events", summary="The agent's event log, newest first")
async def list_events(
    request: Request,
    deployment: str | None = None,
    kind: str | None = None,
    severity: Annotated[str | None, Query(pattern="^(info|warning|critical)$")] = None,
    since: UnixTime = None,
    until: UnixTime = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: BeforeId = None,
) -> dict[str, Any]:
    """Filter by deployment, kind, severity and time; page with ``before_id``."""
    items = agent_view(request).events.query(
        EventQuery(deployment, kind, severity, since, until, limit, before_id)
    )
    next_before = items[-1]["id"] if len(items) == limit else None
    return {"items": items, "next_before_id": next_before}
