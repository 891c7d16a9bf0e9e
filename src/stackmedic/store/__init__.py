"""Durable state in SQLite: desired states, the agent event log, and what other packages add."""

from stackmedic.store.db import Database

__all__ = ["Database"]
