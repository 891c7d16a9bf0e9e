"""Fingerprints counted per deployment, kept in memory and written to the store in batches.

A fingerprint's first line is redacted (known secrets, URL passwords, ``key=value``
secrets) before it is kept, so no notice, answer or page shows what it hid.

Each deployment keeps at most ``max_fingerprints``; the least recently seen go first (and
are deleted from the store with them). The store keeps what is read back after a restart.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from stackmedic.store.db import Database

MAX_FIRST_LINE = 2000


@dataclass
class Fingerprint:
    """One fingerprint of one deployment."""

    deployment: str
    fingerprint: str
    rule: str
    service: str
    severity: str
    first_line: str
    count: int
    first_seen: float
    last_seen: float
    triage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Cursor:
    """How far one container's log was read: the time of the last message read and how
    many messages carried exactly that time (the engine's ``since`` includes it)."""

    deployment: str
    read_to: str
    same_time: int


class Tally:
    """Fingerprints and read positions, in memory with a batched write-behind."""

    def __init__(self, db: Database, *, max_fingerprints: int,
                 redact: Callable[[str], str] = str) -> None:
        self._db = db
        self._redact = redact
        self._max = max_fingerprints
        self._by_deployment: dict[str, OrderedDict[str, Fingerprint]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._evicted: list[tuple[str, str]] = []
        self._cursors: dict[str, Cursor] = {}
        self._dirty_cursors: set[str] = set()
        self.evicted = 0
        self._load()

    def _load(self) -> None:
        rows = self._db.fetchall("SELECT * FROM log_fingerprints ORDER BY last_seen")
        for row in rows:
            triage = json.loads(row["triage"]) if row["triage"] else None
            item = Fingerprint(row["deployment"], row["fingerprint"], row["rule"],
                               row["service"], row["severity"], row["first_line"],
                               row["count"], row["first_seen"], row["last_seen"], triage)
            self._by_deployment.setdefault(item.deployment, OrderedDict())[item.fingerprint] = item
        for row in self._db.fetchall("SELECT * FROM log_cursors"):
            self._cursors[row["container_id"]] = Cursor(row["deployment"], row["read_to"],
                                                        row["same_time"])

    def count(self, deployment: str, key: str, *, rule: str, service: str, severity: str,
              line: str, at: float) -> Fingerprint:
        """One more line of fingerprint ``key``."""
        items = self._by_deployment.setdefault(deployment, OrderedDict())
        item = items.get(key)
        if item is None:
            while len(items) >= self._max:
                old, _ = items.popitem(last=False)
                self._evicted.append((deployment, old))
                self.evicted += 1
            first = self._redact(line[:MAX_FIRST_LINE])  # kept, shown and sent: no secrets
            item = items[key] = Fingerprint(deployment, key, rule, service, severity,
                                            first, 0, at, at)
        else:
            items.move_to_end(key)
        item.count += 1
        item.last_seen = at
        self._dirty.add((deployment, key))
        return item

    def get(self, deployment: str, key: str) -> Fingerprint | None:
        """One fingerprint, if kept."""
        items = self._by_deployment.get(deployment)
        return items.get(key) if items is not None else None

    def set_triage(self, deployment: str, key: str, triage: dict[str, Any]) -> None:
        """Keep a triage verdict with its fingerprint."""
        item = self.get(deployment, key)
        if item is not None:
            item.triage = triage
            self._dirty.add((deployment, key))

    def top(self, deployment: str, limit: int = 10, since: float = 0.0) -> list[Fingerprint]:
        """The deployment's fingerprints seen since ``since``, most lines first."""
        kept = self._by_deployment.get(deployment)
        items = [i for i in (kept or {}).values() if i.last_seen >= since]
        items.sort(key=lambda i: (-i.count, -i.last_seen))
        return items[:limit]

    def cursor(self, container_id: str) -> Cursor | None:
        """Where reading ``container_id`` stopped, if it was read before."""
        return self._cursors.get(container_id)

    def advance(self, container_id: str, cursor: Cursor) -> None:
        """The container's log was read up to ``cursor``."""
        self._cursors[container_id] = cursor
        self._dirty_cursors.add(container_id)

    def forget_container(self, container_id: str) -> None:
        """The container is gone: its read position goes too."""
        self._cursors.pop(container_id, None)
        self._dirty_cursors.add(container_id)

    def flush(self, now: float) -> int:
        """Write what changed since the last flush, counts and positions in one go."""
        if not (self._dirty or self._dirty_cursors or self._evicted):
            return 0
        rows = [self.get(d, k) for d, k in self._dirty]
        cursors = [(cid, self._cursors.get(cid)) for cid in self._dirty_cursors]
        evicted, self._evicted = self._evicted, []
        self._dirty, self._dirty_cursors = set(), set()
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM log_fingerprints WHERE deployment = ? AND "
                             "fingerprint = ?", evicted)
            conn.executemany(
                "INSERT OR REPLACE INTO log_fingerprints VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(i.deployment, i.fingerprint, i.rule, i.service, i.severity, i.first_line,
                  i.count, i.first_seen, i.last_seen,
                  json.dumps(i.triage) if i.triage else None) for i in rows if i is not None])
            for cid, cursor in cursors:
                if cursor is None:
                    conn.execute("DELETE FROM log_cursors WHERE container_id = ?", (cid,))
                else:
                    conn.execute("INSERT OR REPLACE INTO log_cursors VALUES (?,?,?,?,?)",
                                 (cid, cursor.deployment, cursor.read_to, cursor.same_time, now))
        return len(rows) + len(cursors)

    def prune(self, older_than_seconds: float, now: float) -> int:
        """Delete fingerprints not seen for ``older_than_seconds``."""
        limit = now - older_than_seconds
        removed = 0
        for items in self._by_deployment.values():
            for key in [k for k, i in items.items() if i.last_seen < limit]:
                del items[key]
                removed += 1
        self._db.execute("DELETE FROM log_fingerprints WHERE last_seen < ?", (limit,))
        return removed
