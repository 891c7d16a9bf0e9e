"""Endpoint probes: what each one asks, its last result and latency, and bad labels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from stackmedic.api.params import NameParam
from stackmedic.api.routes.deployments import checked_name
from stackmedic.probes import Probes
from stackmedic.readmodel import agent_view

router = APIRouter(tags=["probes"])


def probes_of(probes: Probes, name: str) -> dict[str, Any]:
    """One deployment's probes and its probe labels that could not be used."""
    return {"probes": probes.scheduler.detail(name),
            "probe_errors": probes.scheduler.invalid(name)}


@router.get("/probes", summary="Every probe's last result, and every invalid probe label")
async def all_probes(request: Request) -> dict[str, Any]:
    """Probes by deployment, whether the host's network looks down, and invalid labels."""
    probes = agent_view(request).probes
    scheduler = probes.scheduler
    names = sorted({r.spec.deployment for r in scheduler.book.records()})
    return {
        "enabled": probes.config.enabled,
        "host_down": scheduler.book.host_down,
        "items": {name: scheduler.detail(name) for name in names},
        "invalid": scheduler.invalid(),
    }


@router.get("/deployments/{name}/probes", summary="One deployment's probes")
async def deployment_probes(request: Request, name: NameParam) -> dict[str, Any]:
    """Each probe of the deployment with its last result, latency history and standing."""
    return probes_of(agent_view(request).probes, checked_name(request, name))
