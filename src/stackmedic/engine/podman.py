"""Podman's Docker-compatible events, told in the vocabulary the observers expect.

Measured on Podman 4.3 (``podman system service``, compat ``/events``):
- a removal is ``remove`` (Docker: ``destroy``); a death may be ``died`` on the libpod
  stream (Docker and the compat stream: ``die``); the exit code is ``containerExitCode``
  on every event and ``exitCode`` only on some;
- ``docker stop``, ``compose stop`` and ``podman stop`` emit no ``kill`` and no ``stop``:
  only ``die`` followed by two ``cleanup`` events, one from the stopping call and one
  from conmon's exit command. A crash (the process killed or ending by itself) has only
  conmon's one ``cleanup``, and ``docker kill`` one too.

So after a ``die`` the container's events are held until that second ``cleanup`` (a stop:
it is told as Docker tells one, ``kill`` with SIGTERM, ``die``, ``stop``) or until
``hold_seconds`` pass (3 s) or the container starts again (not a stop: told as it came). An
engine that reports ``stop`` itself (newer Podman) is believed from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from stackmedic.observe.events import EngineLost

log = structlog.get_logger(__name__)

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]

ACTION_NAMES = {"remove": "destroy", "died": "die"}
RELEASING = frozenset({"init", "start", "restart", "destroy", "create"})
STOP_CLEANUPS = 2
# conmon runs its cleanup process as the container exits: about 0.2 s after the die when
# idle (measured), longer on a loaded host; a crash is handed on this much later.
HOLD_SECONDS = 3.0
SIGTERM = "15"


def translate(event: dict[str, Any]) -> dict[str, Any]:
    """One Podman event with Docker's action names and exit-code attribute."""
    action = str(event.get("Action") or event.get("status") or "")
    name = ACTION_NAMES.get(action, action)
    actor = dict(event.get("Actor") or {})
    attributes = dict(actor.get("Attributes") or {})
    if name == "die" and "exitCode" not in attributes and "containerExitCode" in attributes:
        attributes["exitCode"] = attributes["containerExitCode"]
    actor["Attributes"] = attributes
    translated = {**event, "Action": name, "Actor": actor}
    if "status" in event:
        translated["status"] = name
    return translated


def synthesized(event: dict[str, Any], action: str, nano: int,
                **attributes: str) -> dict[str, Any]:
    """An event like ``event`` for ``action`` at ``nano`` (marked as inferred)."""
    actor = dict(event.get("Actor") or {})
    merged = {k: v for k, v in (actor.get("Attributes") or {}).items()
              if k not in ("exitCode", "containerExitCode")}
    actor["Attributes"] = {**merged, **attributes, "stackmedic.inferred": "podman-stop"}
    return {**event, "Action": action, "status": action, "Actor": actor,
            "timeNano": nano, "time": nano // 1_000_000_000}


@dataclass
class _Held:
    die: dict[str, Any]
    after: list[dict[str, Any]] = field(default_factory=list)
    cleanups: int = 0
    timer: asyncio.Task[None] | None = None


class PodmanEvents:
    """Sits between the event stream and the observers while the engine is Podman."""

    def __init__(self, downstream: EventHandler, *, active: Callable[[], bool],
                 hold_seconds: float = HOLD_SECONDS) -> None:
        self._downstream = downstream
        self._active = active
        self._hold = hold_seconds
        self._held: dict[str, _Held] = {}
        self._lock = asyncio.Lock()  # the release timer and the stream take turns
        self.native_stops = False
        self.stops_inferred = 0

    async def on_event(self, event: dict[str, Any]) -> None:
        """Take one event from the stream."""
        if not self._active():
            await self._downstream(event)
            return
        event = translate(event)
        async with self._lock:
            await self._take(event)

    async def _take(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action"))
        container = _container(event)
        if event.get("Type") != "container" or not container:
            await self._downstream(event)
            return
        if action == "stop":
            self.native_stops = True
        held = self._held.get(container)
        if held is not None:
            held.after.append(event)
            if action == "cleanup":
                held.cleanups += 1
                if held.cleanups >= STOP_CLEANUPS:
                    await self._release(container, stopped=True)
            elif action in RELEASING or action == "stop":
                await self._release(container, stopped=False)
            return
        if action == "die" and not self.native_stops:
            held = self._held[container] = _Held(event)
            held.timer = asyncio.create_task(self._release_later(container))
            return
        await self._downstream(event)

    async def _release_later(self, container: str) -> None:
        await asyncio.sleep(self._hold)
        async with self._lock:
            held = self._held.get(container)
            if held is not None and held.timer is asyncio.current_task():
                held.timer = None
                try:
                    await self._release(container, stopped=False)
                except Exception:  # as the stream does for the events it hands on
                    log.exception("event handler failed", action="die")

    async def _release(self, container: str, *, stopped: bool) -> None:
        held = self._held.pop(container)
        if held.timer is not None and held.timer is not asyncio.current_task():
            held.timer.cancel()
        events = [held.die, *held.after]
        if stopped:
            die_nano = int(held.die.get("timeNano") or 0)
            last_nano = int(held.after[-1].get("timeNano") or die_nano)
            self.stops_inferred += 1
            log.debug("podman stop inferred", container=container[:12],
                      cleanup_after=(last_nano - die_nano) / 1e9)
            events = [synthesized(held.die, "kill", max(die_nano - 1, 0), signal=SIGTERM),
                      *events, synthesized(held.die, "stop", max(last_nano, die_nano))]
        for event in events:
            await self._downstream(event)

    async def flush(self) -> None:
        """Tell everything held as it came (the stream ended or the agent stops)."""
        async with self._lock:
            for container in list(self._held):
                await self._release(container, stopped=False)

    async def on_engine_lost(self, event: EngineLost) -> None:
        """The stream ended: what is held is told before anyone judges the stops it saw."""
        await self.flush()

    async def close(self) -> None:
        """Cancel the release timers without telling what they held."""
        timers = [h.timer for h in self._held.values() if h.timer is not None]
        for timer in timers:
            timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*timers, return_exceptions=True)
        self._held.clear()


def _container(event: dict[str, Any]) -> str:
    return str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
