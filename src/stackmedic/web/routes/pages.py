"""The dashboard's pages: overview, deployment, events and notifications."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from stackmedic.readmodel import agent_view
from stackmedic.types import EventKind, Severity
from stackmedic.web.guard import dashboard, page_session
from stackmedic.web.routes.common import known_deployment, services_key
from stackmedic.web.sessions import Session
from stackmedic.web.views.activity import EventFilters, events_page, notifications_page
from stackmedic.web.views.deployment import deployment_page
from stackmedic.web.views.overview import overview

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[Session, Depends(page_session)]
Text = Annotated[str | None, Query(max_length=200)]
Word = TypeVar("Word", bound=StrEnum)


@router.get("/")
async def overview_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Every deployment with its verdict, states and usage; the host; what needs a person."""
    return dashboard(request).renderer.page(
        "overview.html", overview(agent_view(request)), session=session, nav="overview"
    )


@router.get("/deployments/{name}")
async def deployment(
    request: Request,
    name: str,
    session: SessionDep,
    range_key: Annotated[str, Query(alias="range", max_length=8)] = "1h",
) -> HTMLResponse:
    """One deployment: services, containers, charts, history, recoveries, alerts, actions."""
    agent = agent_view(request)
    found = known_deployment(agent, name)
    context = deployment_page(agent, found, range_key)
    context["diagnosis"] = session.diagnoses.get(found.name)
    context["services_key"] = services_key(context["services"])
    return dashboard(request).renderer.page(
        "deployment.html", context, session=session, nav="overview"
    )


@router.get("/events")
async def events(
    request: Request,
    session: SessionDep,
    deployment: Text = None,
    kind: Text = None,
    severity: Text = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """The agent's event log, filtered and paged."""
    filters = EventFilters(  # a kind or severity that is not one shows every event
        deployment or None, _known(EventKind, kind), _known(Severity, severity), before
    )
    return dashboard(request).renderer.page(
        "events.html", events_page(agent_view(request), filters), session=session, nav="events"
    )


@router.get("/notifications")
async def notifications(
    request: Request,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    """Channels, recent deliveries, silences and the send-test button."""
    return dashboard(request).renderer.page(
        "notifications.html", notifications_page(agent_view(request), offset),
        session=session, nav="notifications",
    )


def _known(vocabulary: type[Word], value: str | None) -> Word | None:
    """``value`` as a member of ``vocabulary``; None when it is empty or not one."""
    try:
        return vocabulary(value) if value else None
    except ValueError:
        return None
