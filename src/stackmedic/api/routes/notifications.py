"""Notifications: recent deliveries, the outbox, channels, tests and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from stackmedic.api.params import NAME_PATTERN, RowId, invalid
from stackmedic.api.routes.deployments import checked_name
from stackmedic.notify.errors import UnknownChannelError
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["notifications"])
SILENCE_TARGET = r"^(\*|" + NAME_PATTERN.removeprefix("^").removesuffix("$") + ")$"


class TestRequest(BaseModel):
    """Which channel to test; all channels when omitted."""

    model_config = ConfigDict(extra="forbid")
    channel: str | None = Field(default=None, max_length=64)


class SilenceRequest(BaseModel):
    """Hold notifications of one deployment (or ``*`` for all) for a while."""

    model_config = ConfigDict(extra="forbid")
    deployment: str = Field(
        min_length=1, max_length=64, pattern=SILENCE_TARGET,
        description="A deployment's name, or * for every deployment",
    )
    hours: float = Field(ge=0.01, le=24 * 366, allow_inf_nan=False,
                         description="How long, from 0.01 (36 seconds) to a year")
    reason: str = Field(default="", max_length=500)


@router.get("/notifications", summary="Recent notifications with delivery status per channel")
async def list_notifications(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Newest first."""
    notifier = agent_view(request).notifier
    return {"items": notifier.list_notifications(limit, offset)}


@router.get("/notifications/outbox", summary="Outbox state: pending, retrying, dead")
async def outbox(request: Request) -> dict[str, Any]:
    """Counts per status and channel, next attempt, last error."""
    state: dict[str, Any] = agent_view(request).notifier.outbox_state()
    return state


@router.get("/notifications/channels", summary="Configured channels, secrets masked")
async def channels(request: Request) -> dict[str, Any]:
    """Each channel's kind and settings with secrets shown as ****."""
    return {"items": agent_view(request).notifier.describe_channels()}


@router.post("/notifications/test", summary="Send a test message now",
             responses={404: {"description": "No channel by that name"}})
async def send_test(request: Request, body: TestRequest | None = None) -> dict[str, Any]:
    """Send to one channel or all; answers with each channel's result."""
    notifier = agent_view(request).notifier
    try:
        results = await notifier.send_test(body.channel if body else None)
    except UnknownChannelError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    return {"items": [r.model_dump(mode="json") for r in results]}


@router.get("/silences", summary="Active silences")
async def list_silences(request: Request, include_expired: bool = False) -> dict[str, Any]:
    """Silences hold notifications of a deployment until they end."""
    notifier = agent_view(request).notifier
    return {"items": notifier.list_silences(include_expired=include_expired)}


@router.post("/silences", summary="Silence a deployment for some hours", status_code=201,
             responses={404: {"description": "No deployment by that name"}})
async def add_silence(request: Request, body: SilenceRequest) -> dict[str, Any]:
    """``deployment: "*"`` silences everything (a maintenance window)."""
    notifier = agent_view(request).notifier
    if body.deployment != "*":
        checked_name(request, body.deployment, where="body.deployment")
    until = datetime.now(UTC) + timedelta(hours=body.hours)
    try:
        silence: dict[str, Any] = notifier.add_silence(body.deployment, until, body.reason)
    except ValueError as exc:
        raise invalid("body.deployment", str(exc)) from None
    return silence


@router.delete("/silences/{silence_id}", summary="End a silence now")
async def remove_silence(
    request: Request, silence_id: RowId
) -> dict[str, Any]:
    """Held-back news goes out after this."""
    if not agent_view(request).notifier.remove_silence(silence_id):
        raise HTTPException(404, detail=f"no silence {silence_id}")
    return {"removed": silence_id}
