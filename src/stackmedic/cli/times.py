"""Times for the terminal: local time with its zone, so nobody has to guess."""

from __future__ import annotations

from datetime import UTC, datetime


def local_time(value: float | str | None) -> str:
    """A Unix time or an ISO string as ``YYYY-MM-DD HH:MM:SS ZONE`` in local time; ``-``."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(value, UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
