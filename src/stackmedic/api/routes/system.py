"""Unauthenticated probes: ``/healthz``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Agent and Docker reachability")
async def healthz(request: Request) -> JSONResponse:
    """200 when the agent runs and Docker answers, 503 with the reason when Docker does not."""
    agent = request.app.state.agent
    status = agent.engine.status
    body: dict[str, Any] = {
        "status": "ok" if status.reachable else "degraded",
        "agent": {"up": True, "uptime_seconds": round(time.time() - agent.started_at, 1)},
        "docker": {
            "reachable": status.reachable,
            "host": agent.engine.host,
            "version": status.version,
            "error": status.error,
            "since": status.since or None,
            "events_connected": agent.stream.connected.is_set(),
        },
        "compose": {"available": agent.runner is not None, "error": agent.compose_error},
    }
    return JSONResponse(body, status_code=200 if status.reachable else 503)
