"""Unauthenticated probes: ``/healthz``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stackmedic.readmodel import agent_view

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Agent liveness and Docker reachability")
async def healthz(request: Request) -> JSONResponse:
    """200 when Docker answers and every loop of the agent makes progress; 503 otherwise,
    naming each problem (Docker unreachable, a stale loop, a task that keeps failing)."""
    agent = agent_view(request)
    status = agent.engine.status
    liveness: dict[str, Any] = agent.liveness()
    problems: list[str] = list(liveness["problems"])
    if not status.reachable:
        problems.insert(0, f"Docker unreachable at {agent.engine.host}: {status.error}")
    miss = agent.engine.last_timeout
    body: dict[str, Any] = {
        "status": "ok" if not problems else ("degraded" if liveness["ok"] else "unhealthy"),
        "problems": problems,
        "agent": {
            "up": True,
            "uptime_seconds": round(time.time() - agent.started_at, 1),
            "asyncio_tasks": len(asyncio.all_tasks()),
            "loops": liveness["loops"],
            "tasks": liveness["tasks"],
        },
        "docker": {
            "reachable": status.reachable,
            "host": agent.engine.host,
            "version": status.version,
            "error": status.error,
            "since": status.since or None,
            "events_connected": agent.stream.connected.is_set(),
            "events_error": agent.stream.error,
            "events_dropped": agent.stream.dropped,
            "clock_offset_seconds": agent.engine.clock_offset,
            "timeouts": agent.engine.timeouts,
            # Podman: whether stackmedic runs the healthchecks (no systemd timer does), why
            "healthchecks": None if agent.healthchecks.reason is None else {
                "run_by_stackmedic": agent.healthchecks.running_checks,
                "reason": agent.healthchecks.reason,
            },
            "last_timeout": None if miss is None else {
                "call": miss.what, "seconds": miss.seconds, "at": miss.at,
            },
        },
        "compose": {"available": agent.runner is not None, "error": agent.compose_error},
        "host": agent.host_report.report().to_dict(),
    }
    return JSONResponse(body, status_code=200 if not problems else 503)
