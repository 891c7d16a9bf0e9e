"""The stops seen on the engine that wait to be judged, held in memory and in the store.

Each stop keeps the number of the engine connection it was seen on: those restored from an
earlier agent run carry ``RESTORED`` and wait for the next start to be decided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from stackmedic.intent.evidence import Answer
from stackmedic.intent.link import RESTORED
from stackmedic.store.pending import PendingStopStore, StoredStop

Key = tuple[str, float]  # (container id, when it stopped)


@dataclass
class PendingStop:
    """A stop seen on the engine, waiting to be confirmed as intent."""

    deployment: str
    service: str
    container_id: str
    seen_at: float
    connection: int
    evidence: StoredStop | None = None


class PendingStops:
    """Pending stops by container and stop time; every change is written to the store."""

    def __init__(self, store: PendingStopStore) -> None:
        self._store = store
        self._stops: dict[Key, PendingStop] = {
            (s.container_id, s.stop_at): PendingStop(
                s.deployment, s.service, s.container_id, s.seen_at, RESTORED, s)
            for s in store.all()
        }

    def all(self) -> list[PendingStop]:
        """Every pending stop, in the order they were taken in."""
        return list(self._stops.values())

    def get(self, key: Key) -> PendingStop | None:
        """The stop of a container at a time, while it is pending."""
        return self._stops.get(key)

    def waiting(self, deployment: str) -> bool:
        """Whether a stop of this deployment is pending."""
        return any(p.deployment == deployment for p in self._stops.values())

    def deployments(self) -> list[str]:
        """The deployments with a pending stop, by name."""
        return sorted({p.deployment for p in self._stops.values()})

    def evidence(self, *, restored: bool | None = None) -> list[StoredStop]:
        """The evidence of every pending stop; only those restored (or not) when told."""
        return [p.evidence for p in self._stops.values() if p.evidence is not None
                and (restored is None or (p.connection == RESTORED) == restored)]

    def add(self, stop: StoredStop, connection: int, replacing: float | None = None) -> bool:
        """Hold a stop seen on ``connection``; False for a replay of one already pending.

        ``replacing``: the time of the container's pending stop this one takes the place of.
        """
        added = self._store.add(stop, replacing)
        if replacing is not None:
            self._stops.pop((stop.container_id, replacing), None)
        if not added:
            return False
        self._stops[(stop.container_id, stop.stop_at)] = PendingStop(
            stop.deployment, stop.service, stop.container_id, stop.seen_at, connection, stop)
        return True

    def answered(self, container_id: str, answer: Answer) -> None:
        """Add what a connection probe showed to the container's pending stops."""
        self._store.probed(container_id, answered_at=answer[0], refused_at=answer[1])
        for pending in self._stops.values():
            if pending.container_id == container_id and pending.evidence is not None:
                pending.evidence = replace(
                    pending.evidence, answered_at=pending.evidence.answered_at or answer[0],
                    refused_at=pending.evidence.refused_at or answer[1])

    def forget(self, key: Key) -> None:
        """Drop a decided (or superseded) stop."""
        if self._stops.pop(key, None) is not None:
            self._store.remove(*key)

    def drop(self, deployment: str, which: Callable[[PendingStop], bool]) -> bool:
        """Drop the deployment's stops ``which`` picks; True if that ended its waiting."""
        was_waiting = self.waiting(deployment)
        for key, pending in list(self._stops.items()):
            if pending.deployment == deployment and which(pending):
                self.forget(key)
        return was_waiting and not self.waiting(deployment)
