"""Routing: which channels an event goes to (pure, no I/O)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from stackmedic.notify.config import NotifyConfig, RouteConfig
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.types import SEVERITY_RANK


def route_matches(route: RouteConfig, event: NotificationEvent) -> bool:
    """True when a rule's kinds, minimum severity and deployment patterns all match."""
    if route.kinds is not None and event.kind not in route.kinds:
        return False
    if SEVERITY_RANK[event.severity] < SEVERITY_RANK[route.min_severity]:
        return False
    if route.deployments is not None:
        if event.deployment is None:
            return False
        return any(fnmatchcase(event.deployment, pattern) for pattern in route.deployments)
    return True


class Router:
    """Picks channels for new problems and one-off news.

    Order: a deployment's override (``enabled: false`` drops everything, ``min_severity``
    drops milder events, ``channels`` replaces the routes); otherwise the routes; with no
    routes configured, every channel. Resolving events are not routed here: they go to the
    channels that were told about the problem.
    """

    def __init__(self, config: NotifyConfig) -> None:
        self._config = config

    def channels_for(self, event: NotificationEvent) -> list[str]:
        """Return the channel names for an event, in configuration order, without repeats."""
        config = self._config
        override = config.override_for(event.deployment)
        if override is not None:
            if not override.enabled:
                return []
            floor = override.min_severity
            if floor is not None and SEVERITY_RANK[event.severity] < SEVERITY_RANK[floor]:
                return []
            if override.channels is not None:
                return list(dict.fromkeys(override.channels))
        if config.routes is None:
            return list(config.channels)
        chosen: list[str] = []
        for route in config.routes:
            if not route_matches(route, event):
                continue
            chosen.extend(name for name in route.channels if name not in chosen)
            if not route.continue_:
                break
        return chosen

    def deployment_enabled(self, deployment: str | None) -> bool:
        """False when a deployment's override turns its notifications off."""
        override = self._config.override_for(deployment)
        return override is None or override.enabled
