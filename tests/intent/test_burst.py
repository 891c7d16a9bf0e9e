"""The shutdown-burst rule on its own: which stops are a person's, and how sure."""

from __future__ import annotations

import pytest

from stackmedic.intent.burst import find_burst, judge
from stackmedic.store.pending import StoredStop

BURST = [100.0, 100.004, 100.011, 100.019]  # four kills as measured on the engine


def _stop(kill_at: float, **evidence: float) -> StoredStop:
    return StoredStop("c1", kill_at + 0.05, "shop", "web", kill_at=kill_at, **evidence)


def test_the_burst_is_the_last_run_of_close_kills() -> None:
    burst = find_burst([40.0, 99.0, *BURST], end=101.1)
    assert burst is not None
    assert (burst.start, burst.members) == (100.0, 4)
    assert find_burst([40.0], end=101.1) is None  # long before the stream ended


@pytest.mark.parametrize(("before", "intent", "uncertain"), [
    (3.0, True, False), (1.0, True, False), (0.5, True, False),
    (0.3, True, True),  # closer than CLOSE_CALL_SECONDS
    (0.15, False, True),  # chained into the burst, but leading it by more than a burst does
    (-0.004, False, False),  # one of the burst
])
def test_stops_are_judged_by_how_long_before_the_burst_they_began(
    before: float, intent: bool, uncertain: bool
) -> None:
    stop = _stop(100.0 - before)
    burst = find_burst([stop.began, *BURST], end=101.1)
    judgement = judge(stop, burst, 101.1)
    assert (judgement.intent, judgement.uncertain) == (intent, uncertain), judgement.reason


def test_a_connection_accepted_after_the_stop_began_settles_it() -> None:
    stop = _stop(99.99, answered_at=99.995)
    burst = find_burst([stop.began, *BURST], end=101.1)
    judgement = judge(stop, burst, 101.1)
    assert (judgement.intent, judgement.uncertain) == (True, False)


@pytest.mark.parametrize(("refused_after", "uncertain"), [(0.01, False), (0.2, True)])
def test_a_lone_stop_in_a_shutdown_is_certain_only_with_a_prompt_refusal(
    refused_after: float, uncertain: bool
) -> None:
    stop = _stop(100.0, refused_at=100.0 + refused_after)
    judgement = judge(stop, find_burst([stop.began], end=101.1), 101.1)
    assert (judgement.intent, judgement.uncertain) == (False, uncertain)


def test_a_lone_stop_long_before_the_stream_ended_leans_to_intent() -> None:
    stop = _stop(90.0)
    judgement = judge(stop, find_burst([stop.began], end=101.1), 101.1)
    assert (judgement.intent, judgement.uncertain) == (True, True)
    assert "longer than a shutdown takes" in judgement.reason


@pytest.mark.parametrize(("refused_after", "intent", "uncertain"), [
    (0.009, False, False),  # refused at once: the shutdown had begun
    (0.025, False, True),   # refused a little later: a close call, named in the summary
    (1.0, True, False),     # refused long after: the shutdown came later
])
def test_a_refusal_soon_after_a_stop_places_it_in_a_shutdown_that_ends_in_a_later_kill(
    refused_after: float, intent: bool, uncertain: bool
) -> None:
    # Measured: a daemon restart while stackmedic recreated another service; the shutdown
    # stopped the running service at once and the recreated one 2 s later, alone.
    stop = _stop(98.0, refused_at=98.0 + refused_after)
    burst = find_burst([stop.began, 100.0], end=101.1)
    judgement = judge(stop, burst, 101.1)
    assert (judgement.intent, judgement.uncertain) == (intent, uncertain), judgement.reason
