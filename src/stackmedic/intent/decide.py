"""How each moment that decides pending stops judges them: settle, stream end, agent stop, start.

The rule for one stop is ``intent.burst``; this says which evidence each moment has to give
it (the tracker chooses the moment and gathers the evidence).
"""

from __future__ import annotations

from stackmedic.intent.burst import Burst, Judgement, find_burst, judge
from stackmedic.intent.record import Decision
from stackmedic.store.pending import StoredStop


def after_settle(stop: StoredStop, settle_seconds: float) -> Decision:
    """The settle period passed with the stream connected and the daemon up."""
    return Decision(stop, Judgement(
        True, False, f"the daemon stayed up {settle_seconds:g}s after the stop"), "settle")


def replaced_by_compose(stop: StoredStop) -> Decision:
    """The settle passed and Compose had replaced the stopped container (``replaced``)."""
    return Decision(stop, Judgement(
        False, False, "replaced by a new container of its service, which has not started"),
        "replaced")


def at_stream_end(stops: list[StoredStop], burst: Burst | None,
                  end: float) -> list[Decision]:
    """The event stream ended at ``end``: stops before the shutdown burst are intent."""
    return [Decision(s, judge(s, burst, end), "stream-end", burst, end) for s in stops]


def at_agent_stop(stops: list[StoredStop], daemon_up: bool,
                  burst: Burst | None) -> list[Decision]:
    """The agent is stopped: with the daemon still up, intent; otherwise the burst rule.

    ``daemon_up``: the stream is connected and the daemon accepts new connections.
    """
    if daemon_up:
        judgement = Judgement(True, False, (
            "stackmedic was stopped while the daemon still accepted connections"))
        return [Decision(s, judgement, "agent-stop") for s in stops]
    return [Decision(s, judge(s, burst, None), "agent-stop", burst) for s in stops]


def at_agent_start(stops: list[StoredStop], identity: str | None) -> list[Decision]:
    """Stops an earlier agent run left pending, against the daemon now up (``identity``)."""
    # Only several stored stops can show a burst; a lone one is judged on its own.
    burst = find_burst((s.began for s in stops), None)
    burst = burst if burst is not None and burst.members > 1 else None
    decisions = []
    for stop in stops:
        if stop.daemon and stop.daemon == identity:
            judgement = Judgement(True, False, (
                f"the daemon that reported it ({stop.daemon}) is still up"))
            decisions.append(Decision(stop, judgement, "agent-start"))
        elif stop.daemon and identity:
            decisions.append(Decision(stop, judge(stop, burst, None), "agent-start", burst))
        else:
            decisions.append(Decision(stop, judge(stop, None, None), "agent-start"))
    return decisions
