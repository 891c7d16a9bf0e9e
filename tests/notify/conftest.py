"""Fixtures for the notify tests: loopback receivers, a store, notifier and event factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stackmedic.notify import NotificationEvent, Notifier, NotifyConfig
from stackmedic.store.db import Database

FAST = {
    "group_window_seconds": 0,
    "retry_initial_seconds": 0.05,
    "retry_max_seconds": 0.2,
    "host": "testhost",
}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh store file."""
    database = Database(tmp_path / "stackmedic.db")
    try:
        yield database
    finally:
        database.close()


class AgentEvents:
    """Collects what the notifier writes into the agent event log."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(
        self,
        kind: str,
        message: str,
        *,
        deployment: str | None,
        severity: str,
        data: dict[str, Any] | None,
    ) -> None:
        self.entries.append(
            {
                "kind": kind,
                "message": message,
                "deployment": deployment,
                "severity": severity,
                "data": data,
            }
        )


@pytest.fixture
def agent_events() -> AgentEvents:
    """A record_event callable that keeps the entries."""
    return AgentEvents()


NotifierFactory = Callable[..., Any]


@pytest.fixture
async def notifier_factory(
    db: Database, agent_events: AgentEvents
) -> AsyncIterator[NotifierFactory]:
    """Build started notifiers from config mappings (FAST timings merged in); closes them."""
    made: list[Notifier] = []

    async def make(config: dict[str, Any], *, start: bool = True, **kwargs: Any) -> Notifier:
        kwargs.setdefault("record_event", agent_events)
        kwargs.setdefault("db", db)
        notifier = Notifier(NotifyConfig.model_validate({**FAST, **config}), **kwargs)
        made.append(notifier)
        if start:
            await notifier.start()
        return notifier

    try:
        yield make
    finally:
        for notifier in made:
            await notifier.close(grace=1)


def make_event(**fields: Any) -> NotificationEvent:
    """An ill-health event for deployment ``shop`` service ``web`` unless told otherwise."""
    values: dict[str, Any] = {
        "kind": "ill-health",
        "severity": "critical",
        "deployment": "shop",
        "service": "web",
        "title": "web exited with code 137",
        "summary": "The container shop-web-1 exited with code 137 (killed).",
        "details": {"exit_code": 137, "reason": "OOMKilled", "action_taken": "restarted web"},
        "occurred_at": datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC),
    }
    values.update(fields)
    return NotificationEvent.model_validate(values)


def recovered_event(service: str = "web", **fields: Any) -> NotificationEvent:
    """The recovered event pairing ``make_event``'s default fingerprint."""
    values: dict[str, Any] = {
        "kind": "recovered",
        "severity": "info",
        "service": service,
        "title": f"{service} is running again",
        "summary": f"{service} has been healthy again since the restart.",
        "details": {},
        "occurred_at": datetime(2024, 5, 1, 12, 1, 0, tzinfo=UTC),
    }
    values.update(fields)
    return make_event(**values)
