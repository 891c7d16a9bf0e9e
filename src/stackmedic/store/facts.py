"""Small durable facts: the engine event cursor, the host boot id, the daemon identity."""

from __future__ import annotations

import time

from stackmedic.store.db import Database


class Facts:
    """A key/value table for values the agent must remember across restarts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        """The stored value, or None."""
        row = self._db.fetchone("SELECT value FROM agent_facts WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    def set(self, key: str, value: str) -> None:
        """Store a value, replacing the previous one."""
        self._db.execute(
            "INSERT INTO agent_facts (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, time.time()),
        )
