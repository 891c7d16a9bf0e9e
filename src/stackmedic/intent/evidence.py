"""What the engine showed of every container's stop: the evidence intent is decided from.

Every container counts, not only those of deployments, because a daemon shutdown stops
them all and its burst is read from all of them. Every time here is on the engine's clock,
the probes' too (``now``), so that they compare with the stamps of its events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from stackmedic.intent.burst import SHUTDOWN_WINDOW_SECONDS, Burst, find_burst
from stackmedic.intent.probe import accepts_connections

Answer = tuple[float | None, float | None]  # (answered at, refused at)
# A signal that stops a process does so within the stop timeout (10 s unless set); a die
# later than this after a kill (say a ``docker kill -s HUP`` that it ignored) is its own.
KILL_TO_DIE_SECONDS = 30.0
# The longest stop a replacement waits for (``IntentTracker``): a stop timeout of minutes
# is set for databases; events lost on the way must not hold a stop pending for ever.
STOP_UNDER_WAY_SECONDS = 300.0
AnswerListener = Callable[[str, Answer], None]


class StopEvidence:
    """Kill, die and stop times per container, and what connection probes showed."""

    def __init__(self, docker_host: str | None, on_answer: AnswerListener,
                 now: Callable[[], float] = time.time) -> None:
        self._host = docker_host
        self._now = now
        self._on_answer = on_answer
        self._began: dict[str, float] = {}  # first kill since the container last started
        self._died: dict[str, tuple[float, int | None]] = {}
        self._answers: dict[str, Answer] = {}
        self._recent: list[float] = []  # when recent stops began
        self._destroyed: dict[str, float] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._crashed: set[str] = set()  # died with no kill asked for, not started since
        self._restarted: set[str] = set()  # its last start followed such a death

    def remember(self, container_id: str, action: str, at: float,
                 attributes: dict[str, Any]) -> None:
        """Take in one container event."""
        if action == "start":
            for known in (self._began, self._died, self._answers):
                known.pop(container_id, None)
            if container_id in self._crashed:
                self._restarted.add(container_id)
            else:
                self._restarted.discard(container_id)
            self._crashed.discard(container_id)
        elif action == "kill":
            self._began.setdefault(container_id, at)
            self._crashed.discard(container_id)
        elif action == "die":
            code = str(attributes.get("exitCode"))
            self._died[container_id] = (at, int(code) if code.isdigit() else None)
            if not self.killed(container_id, at):
                self._crashed.add(container_id)
        elif action == "stop":
            self._recent = [t for t in self._recent if t > at - SHUTDOWN_WINDOW_SECONDS]
            self._recent.append(self._began.get(container_id, at))
        elif action == "destroy":
            self._crashed.discard(container_id)
            self._restarted.discard(container_id)
            self._destroyed = {c: t for c, t in self._destroyed.items()
                               if t > at - SHUTDOWN_WINDOW_SECONDS}
            self._destroyed[container_id] = at

    def restarted_after_crash(self, container_id: str) -> bool:
        """Whether the container's last start came right after it died by itself: its
        restart policy's doing (a person starts a container that was stopped, or a new
        one), not a person's intent. behaviour: loop-policy-restarts"""
        return container_id in self._restarted

    def stopped(self, container_id: str) -> None:
        """The container's stop was handled: it no longer counts as stopping."""
        self._began.pop(container_id, None)

    def killed(self, container_id: str, died_at: float) -> bool:
        """Whether a die at ``died_at`` ended a kill (a signal sent on request, not a crash)."""
        began = self._began.get(container_id)
        return began is not None and 0 <= died_at - began <= KILL_TO_DIE_SECONDS

    def stopping(self, container_id: str, since: float) -> bool:
        """Whether the container's stop is under way (signalled, its process not ended,
        within ``STOP_UNDER_WAY_SECONDS``) or its process ended at ``since`` or later."""
        began = self._began.get(container_id)
        died = self._died.get(container_id)
        if died is not None and died[0] >= since:
            return True
        return began is not None and (died is None or died[0] < began) \
            and began >= self._now() - STOP_UNDER_WAY_SECONDS

    def began(self, container_id: str) -> float | None:
        """When the container's current stop began (its first kill)."""
        return self._began.get(container_id)

    def died(self, container_id: str) -> tuple[float | None, int | None]:
        """When it died and its exit code, when seen."""
        return self._died.get(container_id, (None, None))

    def answer(self, container_id: str) -> Answer:
        """What a connection attempt showed after its stop began."""
        return self._answers.get(container_id, (None, None))

    def destroyed_at(self, container_id: str) -> float | None:
        """When the container was removed, if recently."""
        return self._destroyed.get(container_id)

    def burst(self, end: float | None) -> Burst | None:
        """The last burst of stops, those still under way included."""
        return find_burst([*self._recent, *self._began.values()], end)

    def probe(self, container_id: str) -> None:
        """Ask at once whether the daemon still accepts connections (see ``intent.probe``)."""
        if self._host is None or container_id in self._probes \
                or container_id in self._answers:
            return
        task = asyncio.create_task(self._run_probe(self._host, container_id))
        self._probes[container_id] = task
        task.add_done_callback(lambda _: self._probes.pop(container_id, None))

    async def _run_probe(self, host: str, container_id: str) -> None:
        # The event was read before the probe began, so an accepted connection came after
        # the stop began; a refusal is known only once the attempt ends.
        asked = self._now()
        accepted = await accepts_connections(host)
        if accepted is None:
            return
        answer = (asked, None) if accepted else (None, self._now())
        self._answers[container_id] = answer
        self._on_answer(container_id, answer)

    async def probed(self) -> None:
        """Wait for the probes in flight (each bounded by its timeout)."""
        await asyncio.gather(*list(self._probes.values()), return_exceptions=True)
