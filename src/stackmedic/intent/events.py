"""What intent tracking tells the rest of the agent (published on the bus)."""

from __future__ import annotations

from dataclasses import dataclass

from stackmedic.types import DesiredState


@dataclass(frozen=True)
class StopPendingChanged:
    """Stops of a deployment seen on the engine began, or ended, waiting for a decision.

    ``pending`` says whether any stop of the deployment still waits. Health shows such a
    deployment as ``stopping`` (no alarm) until the decision is made.
    """

    deployment: str
    pending: bool
    at: float


@dataclass(frozen=True)
class IntentDecided:
    """A stop or start seen on the engine was judged.

    ``intent`` is False when the stop was judged not a person's (a daemon shutdown), in
    which case the desired state is unchanged. ``uncertain`` marks a decision made with
    too little evidence to be sure (named in the restart summary, correctable with one
    command). ``state`` is the desired state after the decision.
    """

    deployment: str
    service: str | None
    state: DesiredState
    source: str
    intent: bool
    uncertain: bool
    at: float
    evidence: str = ""
