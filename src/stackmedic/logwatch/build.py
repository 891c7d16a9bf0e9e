"""Builds the log watch from the settings: the followers' watch, its notices, its triage."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackmedic.bus import Bus
from stackmedic.deployments.catalog import Catalog
from stackmedic.engine.client import EngineClient
from stackmedic.logwatch.config import LogsConfig
from stackmedic.logwatch.notify_link import LogNotices
from stackmedic.logwatch.watch import LogWatch
from stackmedic.notify.models import NotificationEvent
from stackmedic.notify.service import Notifier
from stackmedic.notify.types import NotificationKind
from stackmedic.observe.events import ContainerChanged
from stackmedic.observe.state import ObservedState
from stackmedic.recovery.config import LlmConfig
from stackmedic.redact import redact_text
from stackmedic.store.db import Database

if TYPE_CHECKING:
    from stackmedic.logwatch.triage import LogTriage


@dataclass(frozen=True)
class LogParts:
    """The log watch of one agent."""

    watch: LogWatch
    notices: LogNotices
    triage: LogTriage | None

    def start(self, notifier: Notifier, spawn: Callable[..., Any], bus: Bus) -> None:
        """Resume the fingerprints still firing, then follow (a task of the supervisor),
        looking again whenever a container changes."""
        if not self.watch.config.enabled:
            return
        self.notices.resume(notifier.open_problems(kind=NotificationKind.LOG_PATTERN))
        bus.subscribe(ContainerChanged, self.watch.on_container_change, name="logs")
        spawn("logs", self.watch.run)

    async def close(self) -> None:
        """Stop following (positions written), then close the triage's client."""
        await self.watch.close()
        if self.triage is not None:
            await self.triage.aclose()


def build_logwatch(config: LogsConfig, llm: LlmConfig | None, db: Database, *,
                   engine: EngineClient, catalog: Catalog, observed: ObservedState,
                   submit: Callable[[NotificationEvent], Awaitable[None]],
                   secrets: Sequence[str]) -> LogParts:
    """The watch, its notices, and the triage when ``logs.triage.enabled`` and an LLM is set."""
    known = list(secrets)
    watch = LogWatch(config, db, host=engine.host, catalog=catalog, observed=observed,
                     engine_now=lambda: engine.to_engine(time.time()),
                     redact=lambda text: redact_text(text, known))
    triage = None
    if config.triage.enabled and llm is not None:
        # Its HTTP client library is loaded only for a configured triage.
        from stackmedic.logwatch.triage import LogTriage

        triage = LogTriage(config.triage, llm, secrets=secrets)
    return LogParts(watch, LogNotices(watch, submit, triager=triage), triage)
