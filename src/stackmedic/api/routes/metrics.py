"""Prometheus scrape endpoint: ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from stackmedic.metrics import CONTENT_TYPE_LATEST
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["system"])


@router.get(
    "/metrics",
    summary="Prometheus metrics of deployments, containers and the agent",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition format",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """The text exposition format, read from the agent's state at scrape time."""
    body = agent_view(request).metrics.render()
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
