"""The supervisor, heartbeats and sd_notify on their own (no Docker)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from stackmedic.supervise import Heartbeats, Supervisor
from stackmedic.supervise.sdnotify import SystemdNotifier
from stackmedic.supervise.supervisor import every
from support.wait import async_wait_until


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_loop_is_stale_and_named_with_its_reason() -> None:
    clock = FakeClock()
    beats = Heartbeats(clock)
    beats.add("events", 30, detail=lambda: "event stream not connected: [403] forbidden")
    beats.add("sweep", 90)
    clock.now += 20
    beats.beat("sweep")
    assert beats.problems() == []
    clock.now += 15
    assert beats.problems() == [
        "events: no progress for 35s (allowed 30s): event stream not connected: [403] forbidden"
    ]
    beats.beat("events")
    assert beats.problems() == []
    with pytest.raises(ValueError, match="already registered"):
        beats.add("events", 1)


def test_progress_counters_and_checks_count_as_beats() -> None:
    clock = FakeClock()
    beats = Heartbeats(clock)
    samples = [0]
    stuck: list[str] = []
    beats.add("sampler", 10, progress=lambda: samples[0])
    beats.add("recovery", 10, check=lambda: stuck[0] if stuck else None)
    clock.now += 8
    samples[0] += 1
    assert beats.problems() == []
    clock.now += 8
    assert beats.problems() == []  # the counter moved 8 s ago
    clock.now += 5
    assert beats.problems() == ["sampler: no progress for 13s (allowed 10s)"]
    stuck.append("run of web still running")
    assert "recovery: run of web still running" in beats.problems()


async def test_a_failing_task_is_restarted_and_reported_once_it_keeps_failing() -> None:
    supervisor = Supervisor(restart_initial=0.01, restart_max=0.05, failure_limit=3,
                            failure_window=60)
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) <= 3:
            raise RuntimeError(f"boom {len(runs)}")
        await asyncio.Event().wait()

    supervisor.spawn("flaky", flaky)
    try:
        await async_wait_until(lambda: len(runs) >= 4, 10, message="restarted three times")
        status = supervisor.status["flaky"]
        assert status.failures == 3
        assert status.last_error == "RuntimeError: boom 3"
        assert supervisor.problems() == [
            "flaky: failed 3 times in the last 60s, last: RuntimeError: boom 3"
        ]
        assert supervisor.running("flaky")
    finally:
        await supervisor.close(timeout=2)
    assert not supervisor.running("flaky")


async def test_a_task_that_returns_is_a_failure_and_a_one_shot_is_not_restarted() -> None:
    supervisor = Supervisor(restart_initial=0.01, restart_max=0.02, failure_limit=2,
                            failure_window=60)
    forever_runs: list[int] = []
    once_runs: list[int] = []

    async def forever() -> None:
        forever_runs.append(1)

    async def once() -> None:
        once_runs.append(1)
        raise ValueError("bad input")

    supervisor.spawn("loop", forever)
    supervisor.spawn("reconcile", once, restart=False)
    try:
        await async_wait_until(lambda: len(forever_runs) >= 2, 10, message="loop restarted")
        await async_wait_until(lambda: not supervisor.running("reconcile"), 10)
        assert once_runs == [1]
        assert supervisor.status["reconcile"].last_error == "ValueError: bad input"
        assert supervisor.status["loop"].last_error == (
            "ended although it should run until the agent stops"
        )
        supervisor.spawn("reconcile", once, restart=False)  # a finished one-shot may run again
        await async_wait_until(lambda: len(once_runs) == 2, 10)
    finally:
        await supervisor.close(timeout=2)


async def test_every_runs_the_job_and_beats_until_it_fails() -> None:
    supervisor = Supervisor(restart_initial=0.01, restart_max=0.02)
    beats: list[int] = []
    jobs: list[int] = []

    async def job() -> None:
        jobs.append(1)
        if len(jobs) == 3:
            raise OSError("disk full")

    supervisor.spawn("sweep", every(0.01, job, beat=lambda: beats.append(1)))
    try:
        await async_wait_until(lambda: len(jobs) >= 5, 10, message="job kept running")
        assert supervisor.status["sweep"].failures == 1
        assert len(beats) == len(jobs) - 1  # every run but the failed one
    finally:
        await supervisor.close(timeout=2)


async def test_close_stops_everything_and_starts_nothing_new() -> None:
    supervisor = Supervisor()
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    supervisor.spawn("input", stubborn)
    await asyncio.sleep(0)
    await supervisor.stop(("input",), timeout=2)
    assert cancelled.is_set()
    await supervisor.close(timeout=2)
    supervisor.spawn("late", stubborn)
    assert not supervisor.running("late")


def test_sd_notify_sends_datagrams_to_the_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
        assert notifier.enabled and notifier.watchdog_seconds == 4.0
        assert notifier.ready("API on port 1")
        assert server.recv(4096) == b"READY=1\nSTATUS=API on port 1"
        assert notifier.watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
        assert notifier.stopping()
        assert server.recv(4096) == b"STOPPING=1"


def test_sd_notify_abstract_socket_and_no_systemd() -> None:
    name = f"smtest-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
    quiet = SystemdNotifier({})
    assert not quiet.enabled and quiet.watchdog_seconds is None
    assert not quiet.ready()
    # A watchdog meant for another process is not ours to feed.
    assert SystemdNotifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_seconds is None


def test_check_without_an_agent_exits_3_and_says_so() -> None:
    from typer.testing import CliRunner

    from stackmedic.cli.main import app
    from support.agent import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["check"], env={"STACKMEDIC_URL": url,
                                                     "STACKMEDIC_CONFIG": None})
    assert result.exit_code == 3
    assert f"no stackmedic agent answers at {url}" in result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-29T18:10:01.123456789Z", 1795975801.123456789),
    ("2026-11-29T18:10:01Z", 1795975801.0),
    ("2026-11-29T19:10:01.5+01:00", 1795975801.5),
    ("not a time", None),
    (None, None),
])
def test_engine_times_parse_with_nanoseconds_and_zones(text: str | None,
                                                       expected: float | None) -> None:
    from stackmedic.engine.client import engine_time

    parsed = engine_time(text)
    assert parsed == pytest.approx(expected, abs=1e-6) if expected else parsed is None
