"""Which deployments need a person: down, wanted running, and nothing will bring them back.

``docker compose stop`` of a deployment that is already down reaches the engine as nothing
at all, so stackmedic cannot learn from it that the person wants it down. Instead of
guessing, the deployment's row says so: it is down, its desired state is ``running``, and
recovery will not act (turned off, every service opted out, or it gave up). A person then
either starts it or says ``stackmedic stop NAME``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DOWN = "down"


@dataclass(frozen=True)
class Attention:
    """Why a deployment needs a person, in words and as data."""

    why: str  # recovery-off / not-recoverable / gave-up
    message: str  # "down, wanted running, recovery gave up"
    at: float | None = None  # when recovery gave up
    detail: str | None = None  # the give-up's reason

    def as_dict(self, name: str) -> dict[str, Any]:
        """JSON-ready, with the two commands that settle it."""
        return {"why": self.why, "message": self.message, "at": self.at,
                "detail": self.detail,
                "fix": [f"stackmedic start {name}", f"stackmedic stop {name}"]}


def needs_attention(verdict: str | None, desired: str | None, *, recovery_enabled: bool,
                    recoverable: bool, recovery: Mapping[str, object] | None) -> Attention | None:
    """The reason a down deployment wanted running will stay down unless a person acts."""
    if verdict != DOWN or desired != "running":
        return None
    lead = "down, wanted running"
    if not recovery_enabled:
        return Attention("recovery-off", f"{lead}, recovery is off (recovery.enabled)")
    if not recoverable:
        return Attention("not-recoverable",
                         f"{lead}, every service is labelled stackmedic.recover=false")
    if recovery is not None and recovery.get("phase") == "gave-up":
        at = recovery.get("gave_up_at")
        reason = recovery.get("gave_up_reason")
        return Attention("gave-up", f"{lead}, recovery gave up",
                         float(at) if isinstance(at, int | float) else None,
                         str(reason) if reason else None)
    return None
