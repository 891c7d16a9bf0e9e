"""The rule that tells a person's stop from an orderly daemon shutdown, from evidence.

Measured on Docker 20.10 (tests/intent/test_shutdown_burst.py: SIGTERM to a private dockerd
with one and with four running containers, each run with ``--init``):
- the daemon refuses new connections 0.001 s after SIGTERM, before its first kill
  (0.011-0.016 s after SIGTERM): a stop that began while a new connection was still
  accepted is not part of a shutdown;
- it sends every running container its stop signal in one burst: the kills spread over
  0.000 s (one container) and 0.019 s (four);
- the last stop follows the first kill by 0.03-0.09 s, and the event stream ends 1.0 s
  after the last stop.
So when the stream ends, the stops that began before the burst are a person's, the ones
inside it are the daemon's. Decisions closer than ``CLOSE_CALL_SECONDS`` are uncertain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stackmedic.store.pending import StoredStop

BURST_GAP_SECONDS = 0.25  # kills this close chain into one burst (10x the measured spread)
# A decision inside the burst is certain only past these (bench/bench_intent_gap.py, 40
# trials each: with 0.05 s for both, wrong at 0.008 and 0.019 s; with these, one wrong at
# 0.002 s, none from 0.010 s on).
BURST_SPREAD_SECONDS = 0.01  # a burst's first kill leading the next by more: maybe a person
PROBE_PROMPT_SECONDS = 0.02  # a refusal this soon after a stop began places it in a shutdown
CLOSE_CALL_SECONDS = 0.5  # a stop beginning less than this before the burst: uncertain
SHUTDOWN_WINDOW_SECONDS = 30.0  # the daemon's shutdown timeout (15 s) with room to spare
STREAM_OUTLIVED_SECONDS = 3.0  # 3x the measured stop-to-stream-end time


@dataclass(frozen=True)
class Burst:
    """The last burst of kills before the stream ended (or before the agent was stopped)."""

    start: float
    members: int
    lead: float  # how far its first kill precedes the second (0 with one member)

    def describe(self) -> str:
        """Evidence text for the event log."""
        return f"shutdown burst of {self.members} kill(s) from {self.start:.3f}"


@dataclass(frozen=True)
class Judgement:
    """Whether a stop is a person's, how sure, and why."""

    intent: bool
    uncertain: bool
    reason: str


def find_burst(began: Iterable[float], end: float | None) -> Burst | None:
    """The burst of stop starts that came last, among those close enough to ``end``."""
    times = sorted(t for t in began if end is None or t >= end - SHUTDOWN_WINDOW_SECONDS)
    if not times:
        return None
    members = [times[-1]]
    for t in reversed(times[:-1]):
        if members[-1] - t > BURST_GAP_SECONDS:
            break
        members.append(t)
    members.reverse()
    lead = members[1] - members[0] if len(members) > 1 else 0.0
    return Burst(members[0], len(members), lead)


def judge(stop: StoredStop, burst: Burst | None, end: float | None) -> Judgement:
    """Decide one stop from its own evidence, then from the burst and the stream's end."""
    began = stop.began
    if stop.answered_at is not None and stop.answered_at >= began:
        return Judgement(True, False, (
            f"the daemon accepted a new connection {stop.answered_at - began:.3f}s after the "
            "stop began; a shutdown refuses them before it stops anything"))
    if burst is None:
        if stop.refused_at is not None:
            late = stop.refused_at - began > PROBE_PROMPT_SECONDS
            return Judgement(False, late, (
                f"the daemon refused a new connection {stop.refused_at - began:.3f}s after "
                "the stop began: it was shutting down"))
        return Judgement(True, True, "no evidence of a shutdown around the stop")
    if began < burst.start and stop.refused_at is not None and \
            0 <= stop.refused_at - began <= BURST_GAP_SECONDS:
        # A shutdown that also stops a container stackmedic was starting (its start came
        # after the rest had been stopped) ends in a lone, later kill; a refusal soon after
        # this stop began still places it in the shutdown (named as a close call unless
        # the refusal was prompt). behaviour: reboot-during-own-action
        return Judgement(False, stop.refused_at - began > PROBE_PROMPT_SECONDS, (
            f"began {burst.start - began:.3f}s before the {burst.describe()}, but the "
            f"daemon refused a new connection {stop.refused_at - began:.3f}s after it "
            "began: it was shutting down"))
    if began < burst.start:
        gap = burst.start - began
        return Judgement(True, gap < CLOSE_CALL_SECONDS,
                         f"began {gap:.3f}s before the {burst.describe()}")
    inside = f"inside the {burst.describe()}"
    if began == burst.start and burst.members > 1 and burst.lead > BURST_SPREAD_SECONDS:
        return Judgement(False, True, f"{inside}, leading it by {burst.lead:.3f}s")
    if burst.members > 1:
        return Judgement(False, False, inside)
    # Alone: a shutdown with one container running, or a person's stop just before one
    # with nothing else running. Only a prompt refusal of a new connection tells.
    if end is not None and end - stop.stop_at > STREAM_OUTLIVED_SECONDS:
        return Judgement(True, True, (
            f"alone before the stream ended {end - stop.stop_at:.3f}s later, longer than a "
            "shutdown takes"))
    if stop.refused_at is not None and stop.refused_at - began <= PROBE_PROMPT_SECONDS:
        return Judgement(False, False, (
            f"{inside}; the daemon refused a new connection "
            f"{max(stop.refused_at - began, 0):.3f}s after the stop began"))
    return Judgement(False, True, f"{inside}, alone, and no prompt evidence")
