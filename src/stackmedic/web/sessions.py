"""Dashboard sessions: random ids held in memory, each with its own CSRF token."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE_NAME = "stackmedic_session"
LIFETIME_SECONDS = 12 * 3600.0
IDLE_SECONDS = 2 * 3600.0
MAX_SESSIONS = 256


@dataclass
class Flash:
    """A one-time message shown on the next page a session loads."""

    tone: str  # ok / warn / bad / info
    text: str
    detail: str = ""


@dataclass
class Session:
    """One logged-in browser."""

    id: str
    csrf: str
    created_at: float
    seen_at: float
    flashes: list[Flash] = field(default_factory=list)
    diagnoses: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_results: list[dict[str, Any]] = field(default_factory=list)
    operator: bool = True
    """Logged in with the operator token; False: the read-only token (viewing only)."""

    def flash(self, tone: str, text: str, detail: str = "") -> None:
        """Queue a message for the next page."""
        self.flashes.append(Flash(tone, text, detail))
        del self.flashes[:-5]

    def take_flashes(self) -> list[Flash]:
        """The queued messages, removed from the queue."""
        taken, self.flashes = self.flashes, []
        return taken

    def csrf_matches(self, submitted: str | None) -> bool:
        """Whether a submitted form carried this session's CSRF token."""
        return submitted is not None and hmac.compare_digest(
            submitted.encode(), self.csrf.encode()
        )


class SessionStore:
    """Sessions by id; they end on logout, after an idle time, or after a lifetime."""

    def __init__(
        self,
        *,
        lifetime: float = LIFETIME_SECONDS,
        idle: float = IDLE_SECONDS,
        limit: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions: dict[str, Session] = {}
        self._lifetime = lifetime
        self._idle = idle
        self._limit = limit
        self._clock = clock

    def create(self, *, operator: bool = True) -> Session:
        """Start a session; the oldest ones end when there are too many."""
        now = self._clock()
        self._prune(now)
        while len(self._sessions) >= self._limit:
            oldest = min(self._sessions.values(), key=lambda s: s.seen_at)
            del self._sessions[oldest.id]
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now,
                          operator=operator)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, touched; None when unknown or expired."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            del self._sessions[session_id]
            return None
        session.seen_at = now
        return session

    def end(self, session_id: str | None) -> None:
        """End a session (logout)."""
        if session_id:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.created_at > self._lifetime or now - session.seen_at > self._idle

    def _prune(self, now: float) -> None:
        for gone in [s.id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[gone]
