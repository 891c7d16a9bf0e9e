"""What one run of a probe found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackmedic.types import ProbeFailure

DAY = 86400.0


@dataclass(frozen=True)
class ProbeResult:
    """One attempt: passed or why not, how long it took, what the server showed."""

    at: float  # wall time it started
    duration: float
    failure: ProbeFailure | None = None
    reason: str = ""  # "HTTP 500", "timed out after 5s", "connection refused", ...
    status_code: int | None = None
    cert_expires_at: float | None = None  # the server certificate's notAfter, epoch seconds
    container: str | None = None  # the container it ran against (its namespace)

    @property
    def ok(self) -> bool:
        """Whether the probe passed."""
        return self.failure is None

    def cert_days_left(self, now: float) -> float | None:
        """Days until the certificate expires (negative once it has)."""
        if self.cert_expires_at is None:
            return None
        return (self.cert_expires_at - now) / DAY

    def describe(self) -> str:
        """``ok in 12 ms`` or the reason it failed."""
        if self.ok:
            return f"ok in {self.duration * 1000:.0f} ms" + (
                f" (HTTP {self.status_code})" if self.status_code is not None else "")
        return self.reason

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at, "ok": self.ok, "duration_seconds": round(self.duration, 6),
            "failure": self.failure.value if self.failure else None, "reason": self.reason,
            "status_code": self.status_code, "cert_expires_at": self.cert_expires_at,
            "container": self.container,
        }
