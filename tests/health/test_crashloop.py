"""Crash-loop detection from die events and restart counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackmedic.health.crashloop import CrashLoopTracker
from stackmedic.health.model import CrashLoop

from .factories import NOW, container


def event(action: str, at: float, **attributes: str) -> dict[str, Any]:
    return {
        "Type": "container",
        "Action": action,
        "timeNano": int(at * 1e9),
        "Actor": {"ID": "shop-db-1", "Attributes": attributes},
    }


def die(tracker: CrashLoopTracker, at: float, code: int, restarts: int) -> bool:
    state = container("db", "restarting", exit_code=code, restart_count=restarts, finished_at=at)
    return tracker.observe(None, state, event("die", at, exitCode=str(code)), at)


def looping(tracker: CrashLoopTracker, now: float) -> dict[str, CrashLoop]:
    """The confirmed loops (not the services on probation)."""
    return {k: v for k, v in tracker.loops("shop", now).items() if v.confirmed}


def test_repeated_die_events_make_a_crash_loop_with_exit_codes() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60)
    assert die(tracker, NOW, 1, 1)
    assert die(tracker, NOW + 1, 1, 2)
    assert looping(tracker, NOW + 1) == {}
    assert die(tracker, NOW + 2, 7, 3)
    loop = tracker.loops("shop", NOW + 2)["db"]
    assert (loop.crashes, loop.exit_codes) == (3, (1, 1, 7))
    assert loop.until == NOW + 60  # the oldest of the three leaves the window then
    assert looping(tracker, NOW + 61) == {}


def test_crashes_outside_the_window_do_not_count() -> None:
    tracker = CrashLoopTracker(threshold=3, window=10)
    for i in range(3):
        die(tracker, NOW + i * 20, 1, i + 1)
    assert looping(tracker, NOW + 40) == {}


def test_a_die_after_a_kill_request_is_a_stop_not_a_crash() -> None:
    tracker = CrashLoopTracker(threshold=1, window=60)
    running = container("db", restart_count=0)
    tracker.observe(None, running, event("kill", NOW, signal="15"), NOW)
    assert not die(tracker, NOW + 2, 137, 0)
    assert tracker.loops("shop", NOW + 2) == {}


def test_restart_count_rising_without_events_counts_each_restart() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60)
    first = container("db", restart_count=2, exit_code=4, finished_at=NOW - 5)
    assert not tracker.observe(None, first, None, NOW)  # first sight: history is not counted
    later = replace(first, restart_count=5, finished_at=NOW + 4)
    assert tracker.observe(first, later, None, NOW + 5)
    loop = tracker.loops("shop", NOW + 5)["db"]
    assert loop.crashes == 3 and loop.exit_codes == (4, 4, 4)


def test_a_death_seen_by_event_and_by_sweep_counts_once() -> None:
    tracker = CrashLoopTracker(threshold=2, window=60)
    base = container("db", restart_count=0)
    tracker.observe(None, base, None, NOW)
    assert die(tracker, NOW + 1, 1, 1)
    swept = container("db", "restarting", exit_code=1, restart_count=1, finished_at=NOW + 1)
    assert not tracker.observe(None, swept, None, NOW + 2)
    assert looping(tracker, NOW + 2) == {}


def test_reset_and_destroy_forget() -> None:
    tracker = CrashLoopTracker(threshold=1, window=60)
    die(tracker, NOW, 1, 1)
    assert tracker.loops("shop", NOW)
    tracker.reset("shop")
    assert tracker.loops("shop", NOW) == {}
    gone = container("db")
    tracker.observe(gone, None, event("destroy", NOW), NOW)
    assert tracker.crashes("shop", "db", NOW) == []


def test_one_off_containers_are_ignored() -> None:
    tracker = CrashLoopTracker(threshold=1, window=60)
    job = container("db", "exited", exit_code=1, oneoff=True, finished_at=NOW)
    assert not tracker.observe(None, job, event("die", NOW, exitCode="1"), NOW)


def start(tracker: CrashLoopTracker, at: float, restarts: int, **fields: Any) -> None:
    state = container("db", restart_count=restarts, started_at=at, **fields)
    tracker.observe(None, state, event("start", at), at)


def test_a_crash_docker_restarts_is_on_probation_until_it_runs_stably() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60, stable=1)
    start(tracker, NOW - 3, 0, restart_policy="always")
    state = container("db", "restarting", exit_code=3, restart_count=1, started_at=NOW - 3,
                      finished_at=NOW, restart_policy="always")
    assert tracker.observe(None, state, event("die", NOW, exitCode="3"), NOW)
    probation = tracker.loops("shop", NOW)["db"]
    assert not probation.confirmed and probation.exit_codes == (3,)
    start(tracker, NOW + 0.1, 1, restart_policy="always")
    # It lived 3 s before it died: it must run twice that long to count as recovered.
    assert tracker.loops("shop", NOW + 5)["db"].until == NOW + 6.1
    assert tracker.loops("shop", NOW + 6.2) == {}


def test_a_crash_no_policy_restarts_is_no_probation() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60)
    state = container("db", "exited", exit_code=3, finished_at=NOW)
    assert tracker.observe(None, state, event("die", NOW, exitCode="3"), NOW)
    assert tracker.loops("shop", NOW) == {}


def test_a_loop_of_oom_kills_counts_them_and_lasts_while_each_run_is_short() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60, stable=1)
    for i in range(3):
        began, died = NOW + i * 4, NOW + i * 4 + 3
        start(tracker, began, i, restart_policy="always")
        tracker.observe(None, container("db", restart_count=i, started_at=began,
                                        restart_policy="always"), event("oom", died - 0.1), died)
        state = container("db", "restarting", exit_code=137, restart_count=i + 1,
                          started_at=began, finished_at=died, restart_policy="always")
        assert tracker.observe(None, state, event("die", died, exitCode="137"), died)
    start(tracker, NOW + 12, 3, restart_policy="always")
    loop = tracker.loops("shop", NOW + 14)["db"]  # 2 s up: longer than 1 s, shorter than 6
    assert loop.confirmed and loop.oom_kills == 3 and loop.exit_codes == (137, 137, 137)


def test_a_loop_of_long_runs_ends_once_the_service_outlives_them_by_ten_seconds() -> None:
    tracker = CrashLoopTracker(threshold=3, window=600, stable=1)
    for i in range(3):
        began, died = NOW + i * 61, NOW + i * 61 + 60
        start(tracker, began, i, restart_policy="always")
        state = container("db", "restarting", exit_code=1, restart_count=i + 1,
                          started_at=began, finished_at=died, restart_policy="always")
        assert tracker.observe(None, state, event("die", died, exitCode="1"), died)
    start(tracker, NOW + 183, 3, restart_policy="always")
    assert tracker.loops("shop", NOW + 183 + 69)["db"].until == NOW + 183 + 70
    assert tracker.loops("shop", NOW + 183 + 70.5) == {}


def test_an_oom_event_read_after_the_death_counts_the_crash_once() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60)
    start(tracker, NOW - 1, 0, restart_policy="always")
    dead = container("db", "restarting", exit_code=137, restart_count=0, started_at=NOW - 1,
                     finished_at=NOW, oom_killed=True, restart_policy="always")
    assert tracker.observe(None, dead, event("oom", NOW), NOW)
    assert tracker.loops("shop", NOW)["db"].oom_kills == 1  # on probation from the oom
    assert not tracker.observe(None, dead, event("die", NOW, exitCode="137"), NOW)
    assert len(tracker.crashes("shop", "db", NOW)) == 1
