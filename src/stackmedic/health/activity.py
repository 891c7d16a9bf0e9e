"""What is being done to a deployment on purpose: stops, restarts and redeploys in progress.

A deployment whose containers go away because a person stops or restarts it (through
stackmedic or directly on the engine), or because someone else's Compose command recreates
them, is not failing. This keeps what is needed to tell so, per deployment, from the bus
events of stackmedic's own actions and pending stops and from the engine's container events:

- stackmedic's own stop / restart / down for a person: between ``ActionStarted`` and
  ``ActionFinished``;
- a stop seen on the engine: a ``kill`` marks the container, its ``die`` and ``stop``
  follow at once (a ``docker kill`` has no ``stop``: it is a stop all the same), then the
  intent tracker holds the stop as pending until it is judged (``StopPendingChanged``);
- a redeploy: a container created outside stackmedic's own actions starts the start grace
  (renewed by each create and start of that redeploy);
- stackmedic's own recovery: between ``ActionStarted`` and ``ActionFinished``, and for
  ``RECOVERY_TAIL_SECONDS`` after, while the engine's events of what it did are read;
- a container unpaused since its last healthcheck (``docker pause`` / ``unpause``).

Pure bookkeeping with explicit times; the health engine asks it and rechecks when it says.
Event stamps (``at``) and action windows are on the engine's clock; ``now`` and every time
derived from it (the marks, a redeploy's grace) on the monotonic clock, as waits are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackmedic.deployments.events import ActionFinished, ActionOrigin, ActionStarted
from stackmedic.intent.windows import ACTION_TAIL_SECONDS, WINDOW_MEMORY_SECONDS, covers

STOPPING_ACTIONS = frozenset({"stop", "restart", "down"})
# A stop signal is followed by the process ending within the stop timeout (10 s unless set).
SIGNAL_TO_DIE_SECONDS = 30.0
# A stop's ``die`` and ``stop`` events come together; a ``die`` alone after a signal is a kill.
DIE_TO_STOP_SECONDS = 2.0
# After ``stop`` the intent tracker holds the stop as pending; poll it this often.
PENDING_POLL_SECONDS = 1.0
# A redeploy's own steps, each renewing its grace: Compose stops and removes the old
# container (slowly when its process ignores SIGTERM) before it starts the new one.
REDEPLOY_ACTIONS = frozenset({"start", "kill", "die", "stop", "destroy", "rename"})
# After a recovery's action ends, the events it caused are still being read for a moment.
RECOVERY_TAIL_SECONDS = 2.0
# Events are matched to actions by their own time, with the intent tracker's rule and
# window ends (``intent.windows``), so that both agree on which events are stackmedic's.


@dataclass
class ActionWindow:
    """When stackmedic acted on a deployment (``end`` is None while it still acts)."""

    action: str
    origin: ActionOrigin
    start: float
    end: float | None = None


@dataclass
class DeploymentActivity:
    """What is being done on purpose to one deployment."""

    windows: list[ActionWindow] = field(default_factory=list)
    stop_pending: bool = False
    signalled: dict[str, float] = field(default_factory=dict)  # container id -> until
    dying: set[str] = field(default_factory=set)  # signalled, their process not ended yet
    deploying_until: float | None = None
    recovered_until: float | None = None  # the tail of stackmedic's last recovery action
    unpaused: set[str] = field(default_factory=set)  # not checked since unpaused


class Activity:
    """Stops, restarts and redeploys in progress, per deployment."""

    def __init__(self, *, start_grace: float) -> None:
        self._start_grace = start_grace
        self._by_name: dict[str, DeploymentActivity] = {}

    def _of(self, name: str) -> DeploymentActivity:
        return self._by_name.setdefault(name, DeploymentActivity())

    def action_started(self, event: ActionStarted) -> None:
        """stackmedic began acting on a deployment."""
        activity = self._of(event.deployment)
        activity.windows = [
            w for w in activity.windows
            if w.end is None or w.end > event.at - WINDOW_MEMORY_SECONDS
        ]
        activity.windows.append(ActionWindow(event.action, event.origin, event.at))

    def action_finished(self, event: ActionFinished, now: float | None = None) -> None:
        """stackmedic's action ended (``now``: the monotonic time it is heard)."""
        activity = self._of(event.deployment)
        if event.origin is ActionOrigin.RECOVERY and now is not None:
            activity.recovered_until = now + RECOVERY_TAIL_SECONDS
        for window in activity.windows:
            if window.end is None and (window.action, window.origin) == (
                event.action, event.origin
            ):
                window.end = event.until if event.until is not None else (
                    event.at + ACTION_TAIL_SECONDS)
                break

    def acting(self, name: str, at: float | None = None) -> bool:
        """Whether stackmedic acts (or, at ``at``, acted) on the deployment."""
        activity = self._by_name.get(name)
        if activity is None:
            return False
        if at is None:
            return any(w.end is None for w in activity.windows)
        return self._window_at(activity, at) is not None

    def pending_changed(self, name: str, pending: bool) -> None:
        """The intent tracker began or ended waiting to judge a stop of the deployment.

        Once it has judged, its decision (desired stopped, or not a person's stop) is what
        the verdict shows: the stop marks of the deployment are over.
        """
        activity = self._of(name)
        activity.stop_pending = pending
        if not pending:
            # Only the stops it saw end: a container still waiting for its process to end
            # (a slow stop of another service) is judged once its own stop comes.
            activity.signalled = {c: t for c, t in activity.signalled.items()
                                  if c in activity.dying}

    def container_event(self, name: str, container: str, action: str, signal: str | None,
                        at: float, now: float, running: bool = True) -> None:
        """Account for one engine event (stamped ``at``) of a container of the deployment.

        ``running`` is what the container does now: events are read after the fact, so a
        ``start`` may be read once the container was stopped again.
        """
        activity = self._of(name)
        if action == "unpause":
            activity.unpaused.add(container)
        elif action in ("health_status", "pause", "die", "destroy"):
            activity.unpaused.discard(container)
        if action == "start" and running:
            # Started again, by whoever: an earlier stop of it is over (a crash right after
            # a start through stackmedic is a crash, not the end of that stop).
            # behaviour: stop-then-start-then-crash
            activity.signalled.pop(container, None)
            activity.dying.discard(container)
        window = self._window_at(activity, at)
        ours = window is not None
        if window is not None and not (
            window.origin is ActionOrigin.PERSON and window.action in STOPPING_ACTIONS
        ):
            return
        marks = activity.signalled
        if action != "kill":
            activity.dying.discard(container)
        if action == "kill":  # a person's ``docker kill`` is a stop too (intent.tracker)
            marks[container] = now + SIGNAL_TO_DIE_SECONDS
            activity.dying.add(container)
        elif action == "die" and container in marks:
            marks[container] = now + DIE_TO_STOP_SECONDS
        elif action == "stop" and container in marks:
            # From here the intent tracker holds a person's stop as pending until it is
            # judged (``pending_changed``); the mark only bridges until it says so.
            marks[container] = now + DIE_TO_STOP_SECONDS
        elif action == "start" and running:
            marks.pop(container, None)
        if not ours and (action == "create" or (
            action in REDEPLOY_ACTIONS and activity.deploying_until is not None
        )):
            activity.deploying_until = now + self._start_grace

    @staticmethod
    def _window_at(activity: DeploymentActivity, at: float) -> ActionWindow | None:
        for window in reversed(activity.windows):
            if covers(window.start, window.end, at):
                return window
        return None

    def settled(self, name: str) -> None:
        """The deployment looks fine again: a redeploy in progress is over."""
        activity = self._by_name.get(name)
        if activity is not None:
            activity.deploying_until = None

    def stopping(self, name: str, now: float, pending: bool = False) -> str | None:
        """Why the deployment's containers are being stopped on purpose, if they are.

        ``pending`` is the intent tracker's own answer, for when its events are late.
        """
        activity = self._by_name.get(name)
        if activity is None and not pending:
            return None
        if activity is not None:
            for window in activity.windows:
                if window.end is None and window.origin is ActionOrigin.PERSON and (
                    window.action in STOPPING_ACTIONS
                ):
                    return f"{window.action} requested through stackmedic"
            if any(until > now for until in activity.signalled.values()):
                return "containers are being stopped on purpose"
        if pending or (activity is not None and activity.stop_pending):
            return "stopped outside stackmedic, waiting to be confirmed as intent"
        return None

    def recovering(self, name: str, now: float) -> str | None:
        """What stackmedic's own recovery is doing to the deployment, while it acts."""
        activity = self._by_name.get(name)
        if activity is None:
            return None
        if any(w.end is None and w.origin is ActionOrigin.RECOVERY for w in activity.windows):
            return "stackmedic is recovering it"
        if activity.recovered_until is not None and now < activity.recovered_until:
            return "stackmedic has just acted on it"
        return None

    def unpaused(self, name: str) -> frozenset[str]:
        """Containers unpaused since their last healthcheck."""
        activity = self._by_name.get(name)
        return frozenset(activity.unpaused) if activity is not None else frozenset()

    def deploying_until(self, name: str, now: float, waiting: bool = False) -> float | None:
        """When the grace of a redeploy in progress ends (None: no redeploy).

        ``waiting``: new containers wait for a dependency's healthcheck to pass (Compose's
        ``depends_on: condition: service_healthy``); the redeploy goes on meanwhile.
        """
        activity = self._by_name.get(name)
        if activity is None or activity.deploying_until is None:
            return None
        if waiting or any(activity.signalled.get(c, 0.0) > now for c in activity.dying):
            # Compose starts the new containers only once every old one has stopped, and
            # each only once what it depends on is healthy: a service that takes its whole
            # stop timeout, or long to pass its check, holds the others' replacements.
            # behaviour: redeploy-person-compose
            activity.deploying_until = max(activity.deploying_until, now + self._start_grace)
        if activity.deploying_until <= now:
            activity.deploying_until = None
            return None
        return activity.deploying_until

    def next_check(self, name: str, now: float, pending: bool = False) -> float | None:
        """When time alone may change what this says about the deployment."""
        activity = self._by_name.get(name)
        times = [t for t in (activity.signalled.values() if activity else ()) if t > now]
        if activity is not None and activity.recovered_until is not None:
            if activity.recovered_until > now:
                times.append(activity.recovered_until)
            else:
                activity.recovered_until = None
        if activity is not None:
            activity.signalled = {c: t for c, t in activity.signalled.items() if t > now}
            activity.dying &= set(activity.signalled)
        if pending:
            times.append(now + PENDING_POLL_SECONDS)
        return min(times) if times else None

    def forget(self, name: str) -> None:
        """The deployment is gone."""
        self._by_name.pop(name, None)
