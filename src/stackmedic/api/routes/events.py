"""The agent's event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from stackmedic.api.params import BeforeId, UnixTime
from stackmedic.readmodel import agent_view
from stackmedic.store.events import EventQuery
from stackmedic.types import EventKind, Severity, parse_word

router = APIRouter(tags=["events"])

KindParam = Annotated[
    EventKind | None,
    BeforeValidator(lambda v: v if v is None else parse_word(EventKind, v, "event kind")),
    Query(description="Only events of this kind"),
]
SeverityParam = Annotated[
    Severity | None,
    BeforeValidator(lambda v: v if v is None else parse_word(Severity, v, "severity")),
    Query(description="Only events of this severity"),
]


@router.get("/events", summary="The agent's event log, newest first")
async def list_events(
    request: Request,
    deployment: str | None = None,
    kind: KindParam = None,
    severity: SeverityParam = None,
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
