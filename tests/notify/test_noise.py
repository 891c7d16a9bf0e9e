"""Noise control as a pure state machine: repeat interval, pairing, flap damping, silences."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from notify.conftest import make_event, recovered_event
from stackmedic.notify.noise import (
    Decision,
    FlapPolicy,
    ProblemState,
    follow_up,
    mark_sent,
    on_event,
)

FLAP = FlapPolicy(threshold=4, window=600, quiet=300)
NO_FLAP = FlapPolicy(threshold=None)
REPEAT = 3600.0


class Problem:
    """Drives the state machine like the intake does: decide, then keep the state."""

    def __init__(self, flap: FlapPolicy = FLAP, repeat: float | None = REPEAT) -> None:
        self.state: ProblemState | None = None
        self.flap = flap
        self.repeat = repeat
        self.sent: list[Decision] = []

    def keep(self, decision: Decision | None, now: float) -> Decision | None:
        if decision is not None and decision.state is not None:
            state = decision.state
            self.state = mark_sent(state, now, ["mail"]) if decision.send else state
            if decision.send:
                self.sent.append(decision)
        return decision

    def fire(self, now: float, silenced: bool = False, **fields: object) -> Decision:
        decision = on_event(
            self.state,
            make_event(**fields),
            now,
            repeat_interval=self.repeat,
            flap=self.flap,
            silenced=silenced,
        )
        self.keep(decision, now)
        return decision

    def resolve(self, now: float, silenced: bool = False) -> Decision:
        decision = on_event(
            self.state,
            recovered_event(),
            now,
            repeat_interval=self.repeat,
            flap=self.flap,
            silenced=silenced,
        )
        self.keep(decision, now)
        return decision

    def tick(self, now: float, silenced: bool = False) -> Decision | None:
        assert self.state is not None
        decision = follow_up(
            self.state, now, repeat_interval=self.repeat, flap=self.flap, silenced=silenced
        )
        return self.keep(decision, now)


def test_new_problem_is_sent_and_repeats_wait_for_the_interval() -> None:
    p = Problem()
    assert p.fire(0).reason == "new"
    assert not p.fire(10).send
    assert p.fire(10).reason == "repeat-interval"
    later = p.fire(REPEAT)
    assert later.send and later.reason == "repeat" and "still failing since" in (later.note or "")


def test_severity_change_is_sent_with_the_severity_it_replaces() -> None:
    p = Problem()
    p.fire(0, severity="warning")
    decision = p.fire(5, severity="critical")
    assert decision.send and decision.reason == "severity-changed"
    assert decision.replaces_severity == "warning" and decision.alert_severity == "critical"


def test_resolution_is_sent_only_after_the_problem_was() -> None:
    p = Problem(flap=NO_FLAP)
    assert p.resolve(0).reason == "not-firing"
    p.fire(1, silenced=True)
    assert p.resolve(2).reason == "not-notified"
    p.fire(100)
    resolved = p.resolve(160)
    assert resolved.send and resolved.reason == "resolved"
    assert resolved.alert_severity == "critical"
    assert resolved.alert_started_at == make_event().occurred_at
    assert p.resolve(170).reason == "not-firing"


def test_reminder_comes_from_the_sweep_without_new_events() -> None:
    p = Problem()
    p.fire(0)
    assert p.tick(100) is None
    reminder = p.tick(REPEAT + 1)
    assert reminder is not None and reminder.send and reminder.reason == "repeat"
    assert p.tick(REPEAT + 2) is None


def test_silence_end_reveals_what_was_held_back() -> None:
    p = Problem()
    assert p.fire(0, silenced=True).reason == "silenced"
    assert p.tick(10, silenced=True) is None
    after = p.tick(20)
    assert after is not None and after.send and after.reason == "new"

    p.resolve(30, silenced=True)
    resolved = p.tick(40)
    assert resolved is not None and resolved.send and resolved.reason == "resolved"


def test_flapping_is_announced_once_then_held_until_quiet() -> None:
    p = Problem()
    assert p.fire(0).send
    assert p.resolve(10).send
    assert p.fire(20).send
    started = p.resolve(30)
    assert started.reason == "flapping-started" and "flapping: 4 changes" in (started.note or "")
    assert p.fire(40).reason == "flapping"
    assert p.resolve(50).reason == "flapping"
    assert p.fire(60).reason == "flapping"
    assert p.tick(60 + FLAP.quiet - 1) is None
    settled = p.tick(60 + FLAP.quiet)
    assert settled is not None and settled.send and settled.reason == "new"
    assert "stable again after flapping: firing" in (settled.note or "")
    assert p.state is not None and not p.state.flapping


def test_one_off_news_is_always_sent_unless_silenced() -> None:
    news = make_event(kind="recovery-started", severity="info", title="restarting web")
    assert on_event(None, news, 0, repeat_interval=1, flap=FLAP, silenced=False).send
    assert not on_event(None, news, 0, repeat_interval=1, flap=FLAP, silenced=True).send


steps = st.lists(
    st.tuples(
        st.sampled_from(["fire", "fire-warning", "resolve", "tick", "silenced-fire"]),
        st.floats(min_value=0, max_value=2000),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps)
def test_what_people_are_told_is_never_contradictory(steps: list[tuple[str, float]]) -> None:
    p = Problem(flap=FlapPolicy(threshold=4, window=600, quiet=300), repeat=900)
    now = 0.0
    told: list[tuple[str, str, float]] = []  # (status, severity, when)
    for action, gap in steps:
        now += gap
        if action == "tick" and p.state is None:
            continue
        before = len(p.sent)
        if action.startswith("fire") or action == "silenced-fire":
            severity = "warning" if action == "fire-warning" else "critical"
            p.fire(now, silenced=action == "silenced-fire", severity=severity)
        elif action == "resolve":
            p.resolve(now)
        else:
            p.tick(now)
        for decision in p.sent[before:]:
            assert decision.event is not None
            status = "resolved" if decision.event.resolves else "firing"
            told.append((status, decision.event.severity, now))
    for (s1, sev1, t1), (s2, sev2, t2) in itertools.pairwise(told):
        # A resolution always follows a firing notice, never another resolution.
        assert not (s1 == "resolved" and s2 == "resolved")
        # The same firing problem at the same severity waits for the repeat interval.
        if s1 == s2 == "firing" and sev1 == sev2:
            assert t2 - t1 >= 900
    if told:
        assert told[0][0] == "firing"
