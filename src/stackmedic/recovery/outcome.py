"""What a recovery run ends with, and the slot that bounds runs acting at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from stackmedic.recovery.executor import ActionOutcome
from stackmedic.recovery.rules import Diagnosis
from stackmedic.types import RunOutcome


@dataclass
class RunResult:
    """The end of one recovery run."""

    deployment: str
    outcome: RunOutcome
    diagnosis: Diagnosis | None = None
    actions: list[ActionOutcome] = field(default_factory=list)
    message: str = ""
    run_id: int | None = None
    acted_at: float | None = None  # when stackmedic began to act, None when it did not
    engine_silent: bool = False  # deferred because the engine stopped answering mid-run


class Slot:
    """A semaphore slot that can be given back early, and only once.

    ``released`` is set when the run gives its slot back: it has acted, or ended without.
    """

    def __init__(self, semaphore: asyncio.Semaphore | None,
                 released: asyncio.Event | None = None) -> None:
        self._semaphore = semaphore
        self._released = released
        self._held = False

    async def acquire(self) -> None:
        """Wait for a free slot (at once without a semaphore)."""
        if self._semaphore is not None:
            await self._semaphore.acquire()
            self._held = True

    def release(self) -> None:
        """Give the slot back if it is still held."""
        if self._held and self._semaphore is not None:
            self._semaphore.release()
            self._held = False
        if self._released is not None:
            self._released.set()
