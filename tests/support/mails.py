"""Mail to a real SMTP sink for row tests: the agent's settings and what the mails say."""

from __future__ import annotations

from typing import Any

from support.agent import RECOVERY_ON, merge
from support.servers import SmtpSink


def mail_settings(smtp: SmtpSink, *, recover: bool = True, **extra: Any) -> dict[str, Any]:
    """Agent settings sending every notice at once to ``smtp`` (recovery on unless told)."""
    settings: dict[str, Any] = {
        "notifications": {
            "group_window_seconds": 0.2, "retry_initial_seconds": 0.2,
            "channels": {"ops": {
                "type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
            }},
        },
    }
    if recover:
        settings = merge(settings, RECOVERY_ON)
    return merge(settings, extra)


def subjects(smtp: SmtpSink, about: str | None = None) -> list[str]:
    """Subjects of the mails received so far (only those naming ``about`` if given)."""
    with smtp.lock:
        found = [str(m.message["Subject"]) for m in smtp.mails]
    return [s for s in found if about is None or about in s]


def texts(smtp: SmtpSink, about: str | None = None) -> list[str]:
    """Subject and plain text of each mail received so far (naming ``about`` if given)."""
    with smtp.lock:
        found = [f"{m.message['Subject']}\n{m.text()}" for m in smtp.mails]
    return [t for t in found if about is None or about in t]


def problems(smtp: SmtpSink, about: str) -> list[str]:
    """Subjects of problem notices about ``about``."""
    return [s for s in subjects(smtp, about) if "PROBLEM" in s]


def resolved(smtp: SmtpSink, about: str) -> list[str]:
    """Subjects of resolved notices about ``about``."""
    return [s for s in subjects(smtp, about) if "RESOLVED" in s]
