"""Helpers shared by the dashboard's routes."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from stackmedic.deployments.names import InvalidName, validate_name
from stackmedic.web.guard import PageNotFound

if TYPE_CHECKING:
    from stackmedic.deployments.model import Deployment
    from stackmedic.readmodel import AgentView


def known_deployment(agent: AgentView, name: str) -> Deployment:
    """The deployment called ``name``; ``PageNotFound`` when the name is invalid or unknown."""
    try:
        validate_name(name)
    except InvalidName:
        raise PageNotFound("There is no deployment by that name.") from None
    deployment = agent.catalog.get(name)
    if deployment is None:
        raise PageNotFound(f"There is no deployment named {name}.")
    return deployment


def services_key(services: list[dict[str, Any]]) -> str:
    """A short digest of the services and containers shown: a live page redraws on change."""
    text = json.dumps(services, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deployment_path(name: str) -> str:
    """The dashboard page of a deployment (names are validated, so safe in a path)."""
    return f"/deployments/{name}"
