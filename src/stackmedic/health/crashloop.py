"""Crash-loop detection: a service whose containers keep dying, healthcheck or not.

A crash is a ``die`` event that no ``kill`` asked for (a stop, a restart and a daemon
shutdown all send ``kill`` first; the OOM killer does not), or a rise of the container's
restart count seen without its ``die`` event (events missed, found by a sweep). A service
with at least ``threshold`` crashes inside ``window`` seconds is crash-looping, until
every one of its containers has run stably since the last crash: ``stable`` seconds, and
longer than the longest run between its crashes by as much again, up to
``OUTLIVE_MARGIN_SECONDS`` (a service killed 3 s after each start has not recovered after
4 s of running; one killed after 60 s has after 70 s). Then the verdict follows the present and
the loop is over (its crashes are forgotten). behaviour: loop-policy-restarts

Before the threshold, a service that crashed and that Docker's restart policy is
restarting is *on probation* (``CrashLoop.confirmed`` False): it is Docker's to restart,
so its verdict is neither ill nor healthy until it has run stably or crashed often
enough to be a loop (``docs/behaviour.md``, rows ``loop-*``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from stackmedic.engine.events import event_time
from stackmedic.health.model import CrashLoop
from stackmedic.observe.containers import ContainerState

# A die this long after a kill request is the kill's doing (stop timeouts are ~10 s).
KILL_GRACE_SECONDS = 60.0
EXIT_CODES_SHOWN = 10
# How long a crash-looping service must run to count as recovered (recovery's verify
# stable period replaces it when the agent is wired up).
STABLE_SECONDS = 5.0
# How much longer than its longest run inside a loop a service must run to end the loop,
# at most (the margin is the run's own length below this).
OUTLIVE_MARGIN_SECONDS = 10.0
# A die this soon after an ``oom`` event of the same container is the OOM killer's.
OOM_TO_DIE_SECONDS = 5.0


@dataclass(frozen=True)
class Crash:
    """One death of a service's container that nothing asked for."""

    at: float
    exit_code: int | None
    lived: float | None = None  # how long that run lasted, when known
    oom: bool = False


class CrashLoopTracker:
    """Counts crashes per (project, service) in a sliding window."""

    def __init__(self, *, threshold: int, window: float,
                 stable: float = STABLE_SECONDS) -> None:
        self.threshold = threshold
        self.window = window
        self.stable = stable
        # (project, service) -> container id -> start time while it runs, None when not
        self._up: dict[tuple[str, str], dict[str, float | None]] = {}
        # (project, service) -> container id -> whether Docker's policy restarts it now
        self._policy: dict[tuple[str, str], dict[str, bool]] = {}
        keep = max(threshold * 2, EXIT_CODES_SHOWN)
        self._keep = keep
        self._crashes: dict[tuple[str, str], deque[Crash]] = {}
        self._restarts_seen: dict[str, int] = {}
        self._last_death: dict[str, float | None] = {}
        self._kill_requested: dict[str, float] = {}
        self._oom_at: dict[str, float] = {}

    def observe(
        self,
        previous: ContainerState | None,
        current: ContainerState | None,
        event: dict[str, Any] | None,
        now: float,
    ) -> bool:
        """Feed one container change; return whether it recorded a crash."""
        state = current or previous
        if state is None or state.oneoff:
            return False
        action = str((event or {}).get("Action") or "").split(":", 1)[0]
        at = event_time(event) if event else now
        key = (state.project, state.service)
        if current is None or action == "destroy":
            self.forget(state.id)
            self._up.get(key, {}).pop(state.id, None)
            self._policy.get(key, {}).pop(state.id, None)
            return False
        self._up.setdefault(key, {})[current.id] = (
            (current.started_at or at) if current.running else None)
        self._policy.setdefault(key, {})[current.id] = current.restarted_by_policy
        if action == "kill":
            self._kill_requested[state.id] = at
            self._prune_kills(at)
            return False
        if action == "oom":
            self._oom_at[state.id] = at
            if current.running or current.finished_at is None:
                return False  # a child was killed, or its die is still to come
            # Read once it had died: the crash is this kill (its die counts it no more).
            return self._crash(current, at, current.exit_code, True)
        seen = self._restarts_seen.get(state.id)
        self._restarts_seen[state.id] = max(seen or 0, current.restart_count)
        if action == "die":
            requested = self._kill_requested.pop(state.id, None)
            if requested is not None and at - requested <= KILL_GRACE_SECONDS:
                return False
            attributes = ((event or {}).get("Actor") or {}).get("Attributes") or {}
            oom_at = self._oom_at.pop(state.id, None)
            oom = current.oom_killed or (oom_at is not None and at - oom_at <= OOM_TO_DIE_SECONDS)
            return self._crash(current, at, _exit_code(attributes, current), oom)
        if seen is None or current.restart_count <= seen:
            return False  # first sight counts nothing from before; a recreate resets
        missed = current.restart_count - seen
        recorded = self._crash(current, at, current.exit_code, current.oom_killed)
        for _ in range(missed - 1):
            self._append(current, Crash(at, current.exit_code, oom=current.oom_killed))
        return recorded or missed > 1

    def _crash(self, state: ContainerState, at: float, exit_code: int | None,
               oom: bool) -> bool:
        if state.finished_at is not None and self._last_death.get(state.id) == state.finished_at:
            return False  # this death was counted already
        self._last_death[state.id] = state.finished_at
        started, finished = state.started_at, state.finished_at
        lived = finished - started if started is not None and finished is not None \
            and started <= finished else None
        self._append(state, Crash(at, exit_code, lived, oom))
        return True

    def _append(self, state: ContainerState, crash: Crash) -> None:
        key = (state.project, state.service)
        crashes = self._crashes.setdefault(key, deque(maxlen=self._keep))
        crashes.append(crash)

    def _prune_kills(self, now: float) -> None:
        if len(self._kill_requested) > 256:
            for cid, at in list(self._kill_requested.items()):
                if now - at > KILL_GRACE_SECONDS:
                    del self._kill_requested[cid]

    def forget(self, container_id: str) -> None:
        """Drop what is kept about one container (it was removed)."""
        self._restarts_seen.pop(container_id, None)
        self._last_death.pop(container_id, None)
        self._kill_requested.pop(container_id, None)
        self._oom_at.pop(container_id, None)

    def reset(self, project: str) -> None:
        """Forget the crashes of a project (the user started it afresh)."""
        for key in [k for k in self._crashes if k[0] == project]:
            del self._crashes[key]

    def _window(self, project: str, service: str, now: float) -> list[Crash]:
        crashes = self._crashes.get((project, service))
        if not crashes:
            return []
        while crashes and crashes[0].at < now - self.window:
            crashes.popleft()
        if not crashes:
            del self._crashes[(project, service)]
            return []
        return list(crashes)

    def crashes(self, project: str, service: str, now: float) -> list[tuple[float, int | None]]:
        """(time, exit code) of the service's crashes inside the window, oldest first."""
        return [(c.at, c.exit_code) for c in self._window(project, service, now)]

    def running_since(self, project: str, service: str) -> float | None:
        """Since when every known container of the service runs; None if one does not."""
        starts = list(self._up.get((project, service), {}).values())
        if not starts or any(s is None for s in starts):
            return None
        return max(s for s in starts if s is not None)

    def restarted_by_policy(self, project: str, service: str) -> bool:
        """Whether Docker's restart policy restarts the service's containers now."""
        return any(self._policy.get((project, service), {}).values())

    def loops(self, project: str, now: float) -> dict[str, CrashLoop]:
        """The crash-looping services of a project (and those on probation), by name."""
        found = {}
        for key in [k for k in self._crashes if k[0] == project]:
            crashes = self._window(project, key[1], now)
            confirmed = len(crashes) >= self.threshold
            if not crashes or not (confirmed or self.restarted_by_policy(*key)):
                continue
            lived = [c.lived for c in crashes if c.lived is not None]
            needed = max([self.stable, *(t + min(t, OUTLIVE_MARGIN_SECONDS) for t in lived)])
            until = crashes[-self.threshold].at + self.window if confirmed \
                else crashes[-1].at + self.window
            since = self.running_since(project, key[1])
            if since is not None and since >= crashes[-1].at - 1.0:
                if now >= since + needed:
                    # Running stably since the last crash: the loop is over.
                    del self._crashes[key]
                    continue
                until = min(until, since + needed)
            codes = tuple(c.exit_code for c in crashes
                          if c.exit_code is not None)[-EXIT_CODES_SHOWN:]
            found[key[1]] = CrashLoop(
                crashes=len(crashes),
                exit_codes=codes,
                last_at=crashes[-1].at,
                until=until,
                confirmed=confirmed,
                oom_kills=sum(1 for c in crashes if c.oom),
            )
        return found


def _exit_code(attributes: dict[str, Any], state: ContainerState) -> int | None:
    try:
        return int(attributes["exitCode"])
    except (KeyError, TypeError, ValueError):
        return state.exit_code
