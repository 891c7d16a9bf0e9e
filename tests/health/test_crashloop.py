"""Crash-loop detection from die events and restart counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackmedic.health.crashloop import CrashLoopTracker

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


def test_repeated_die_events_make_a_crash_loop_with_exit_codes() -> None:
    tracker = CrashLoopTracker(threshold=3, window=60)
    assert die(tracker, NOW, 1, 1)
    assert die(tracker, NOW + 1, 1, 2)
    assert tracker.loops("shop", NOW + 1) == {}
    assert die(tracker, NOW + 2, 7, 3)
    loop = tracker.loops("shop", NOW + 2)["db"]
    assert (loop.crashes, loop.exit_codes) == (3, (1, 1, 7))
    assert loop.until == NOW + 60  # the oldest of the three leaves the window then
    assert tracker.loops("shop", NOW + 61) == {}


def test_crashes_outside_the_window_do_not_count() -> None:
    tracker = CrashLoopTracker(threshold=3, window=10)
    for i in range(3):
        die(tracker, NOW + i * 20, 1, i + 1)
    assert tracker.loops("shop", NOW + 40) == {}


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
    assert tracker.loops("shop", NOW + 2) == {}


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
