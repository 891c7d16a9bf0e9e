"""The exit ledger on engine events (stops, own exits, jobs, OOM kills counted once, what
survives an agent restart) and recovery runs that always end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from health.factories import reached
from stackmedic.deployments.catalog import Catalog
from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.observe.containers import ContainerState
from stackmedic.observe.events import ContainerChanged
from stackmedic.recovery.exits import ExitLedger
from stackmedic.recovery.runs import RecoveryRuns
from stackmedic.store.db import Database
from stackmedic.store.facts import Facts

T = 1_700_000_000.0


def event(action: str, at: float) -> dict[str, Any]:
    return {"Action": action, "timeNano": int(at * 1e9), "Actor": {"Attributes": {}}}


def box(service: str = "app", status: str = "running", cid: str = "c1",
        **fields: Any) -> ContainerState:
    return ContainerState(id=cid, name=f"shop-{service}-1", project="shop", service=service,
                          status=status, **fields)


async def feed(exits: ExitLedger, previous: ContainerState | None,
               current: ContainerState | None, event: dict[str, Any] | None) -> None:
    """Tell the ledger of one change, as the container monitor does on the bus."""
    await exits.on_container_change(ContainerChanged(previous, current, event))


def ledger(tmp_path: Path, daemon_started_at: float | None = None) -> ExitLedger:
    db = Database(tmp_path / "state.db")
    catalog = Catalog(tmp_path, None, Facts(db))
    catalog.deployments["shop"] = Deployment(
        "shop", "shop", DeploymentKind.FOLDER, tmp_path, [], {
            "migrate": ServiceSpec("migrate"),
            "app": ServiceSpec("app", depends_conditions={
                "migrate": "service_completed_successfully"}),
        })
    return ExitLedger(db, catalog, daemon_started_at=daemon_started_at,
                      clock=lambda: T + 100)


async def test_a_stop_and_an_own_exit_are_told_apart(tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    await feed(exits, None, box(started_at=T), None)
    await feed(exits, None, box(started_at=T), event("kill", T + 10))
    stopped = box(status="exited", exit_code=0, started_at=T, finished_at=T + 11)
    await feed(exits, None, stopped, event("die", T + 11))
    assert stopped.exit_cause == "stop" and not stopped.completed
    await feed(exits, None, box(started_at=T + 20), event("start", T + 20))
    ended = box(status="exited", exit_code=0, started_at=T + 20, finished_at=T + 30)
    await feed(exits, None, ended, event("die", T + 30))
    assert ended.exit_cause == "own" and ended.completed


async def test_running_when_the_daemon_went_down_survives_an_agent_restart(
        tmp_path: Path) -> None:
    before = ledger(tmp_path)
    await feed(before, None, box(started_at=T), None)  # seen running, saved
    after = ledger(tmp_path)  # a new agent, and the session finds a new daemon
    await after.on_engine_reached(reached(daemon_started_at=T + 60))
    found = box(status="exited", exit_code=0, started_at=T, finished_at=T + 50)
    await feed(after, None, found, None)  # the first sweep
    assert found.exit_cause == "stop" and not found.completed


async def test_a_job_others_wait_for_is_marked_and_completes(tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    job = box("migrate", "exited", cid="m1", exit_code=0, restart_policy="always",
              started_at=T, finished_at=T + 1)
    await feed(exits, None, job, event("die", T + 1))
    assert job.job and job.completed


async def test_oom_kills_are_counted_once_per_kill_across_recreation(tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    await feed(exits, None, box(started_at=T), event("oom", T + 5))
    killed = box(status="exited", exit_code=137, oom_killed=True, started_at=T,
                 finished_at=T + 5)
    await feed(exits, None, killed, event("die", T + 5))
    await feed(exits, None, killed, None)  # a sweep sees the flag again
    assert exits.oom_kills("shop", "app") == 1
    await feed(exits, killed, None, event("destroy", T + 6))
    again = box(status="exited", cid="c2", exit_code=137, oom_killed=True, started_at=T + 7,
                finished_at=T + 9)
    await feed(exits, None, again, None)  # its oom event was missed
    assert exits.oom_kills("shop", "app") == 2


def test_runs_left_open_by_a_previous_agent_end_as_interrupted(tmp_path: Path) -> None:
    runs = RecoveryRuns(Database(tmp_path / "state.db"))
    open_id = runs.begin("shop", "ill-health", 1)
    done_id = runs.begin("shop", "ill-health", 2)
    runs.finish(done_id, "recovered", [])
    assert len(RecoveryRuns(Database(tmp_path / "state.db")).interrupt_leftovers()) == 1
    left = runs.get(open_id)
    assert left is not None and left["outcome"] == "interrupted"
    assert left["finished_at"] is not None
    assert left["error"] == "the agent stopped during the run"
    assert runs.get(done_id)["outcome"] == "recovered"  # type: ignore[index]


def test_a_service_labelled_oneshot_is_a_job() -> None:
    from stackmedic.observe.containers import parse_inspect

    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "seed",
              "stackmedic.oneshot": "true"}
    state = parse_inspect({"Id": "s1", "Name": "/shop-seed-1", "Config": {"Labels": labels},
                           "State": {"Status": "exited", "ExitCode": 0,
                                     "FinishedAt": "2026-01-01T00:00:00Z"},
                           "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}}})
    assert state is not None and state.job and state.completed


async def _nothing_rearmed(names: object, why: str) -> list[str]:
    return []


async def test_a_reconcile_is_announced_before_it_starts_and_ends_with_its_summary(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from stackmedic.bus import Bus
    from stackmedic.observe.boot import RestartKind
    from stackmedic.recovery.config import RecoveryConfig
    from stackmedic.recovery.events import (
        RecoveryEvent,
        RestartReconcileFinished,
        RestartReconcileStarted,
    )
    from stackmedic.recovery.reconcile import RestartReconciler
    from stackmedic.store.desired import DesiredStateStore
    from stackmedic.store.events import EventLog

    db = Database(tmp_path / "state.db")
    bus = Bus()
    seen: list[object] = []

    async def remember(event: object) -> None:
        seen.append(event)

    bus.subscribe(RestartReconcileStarted, remember)
    bus.subscribe(RestartReconcileFinished, remember)
    bus.subscribe(RecoveryEvent, remember)
    recovery = SimpleNamespace(config=RecoveryConfig(settle_seconds=0.01),
                               rearm_after_restart=_nothing_rearmed)
    reconciler = RestartReconciler(
        recovery, catalog=Catalog(tmp_path, None, Facts(db)),  # type: ignore[arg-type]
        desired=DesiredStateStore(db), health=None, engine=None,  # type: ignore[arg-type]
        events=EventLog(db), bus=bus)
    await reconciler.run(RestartKind.HOST)
    assert [type(e).__name__ for e in seen] == [
        "RestartReconcileStarted", "RestartReconcileFinished", "RecoveryEvent"]
    assert isinstance(seen[0], RestartReconcileStarted) and seen[0].kind == "host"
    assert isinstance(seen[1], RestartReconcileFinished) and seen[1].ok
    assert isinstance(seen[-1], RecoveryEvent) and seen[-1].kind == "restart-summary"


async def test_the_summary_names_stops_judged_on_thin_evidence_with_the_fix(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from stackmedic.bus import Bus
    from stackmedic.intent.events import IntentDecided
    from stackmedic.observe.boot import RestartKind
    from stackmedic.recovery.config import RecoveryConfig
    from stackmedic.recovery.reconcile import RestartReconciler
    from stackmedic.store.desired import DesiredStateStore
    from stackmedic.store.events import EventLog
    from stackmedic.types import DesiredState

    db = Database(tmp_path / "state.db")
    bus = Bus()
    recovery = SimpleNamespace(config=RecoveryConfig(settle_seconds=0.01),
                               rearm_after_restart=_nothing_rearmed)
    reconciler = RestartReconciler(
        recovery, catalog=Catalog(tmp_path, None, Facts(db)),  # type: ignore[arg-type]
        desired=DesiredStateStore(db), health=None, engine=None,  # type: ignore[arg-type]
        events=EventLog(db), bus=bus)
    await bus.publish(IntentDecided("shop", None, DesiredState.STOPPED, "observed-stop",
                                    intent=True, uncertain=True, at=1.0))
    await bus.publish(IntentDecided("blog", None, DesiredState.STOPPED, "observed-stop",
                                    intent=True, uncertain=True, at=1.0))
    # A later, sure decision about the same deployment replaces the doubtful one.
    await bus.publish(IntentDecided("blog", None, DesiredState.RUNNING, "observed-start",
                                    intent=True, uncertain=False, at=2.0))
    summary = await reconciler.run(RestartKind.HOST)
    assert summary.uncertain == [
        {"deployment": "shop", "decided": "kept stopped", "fix": "stackmedic start shop"}]
    assert "stackmedic start shop" in summary.message()
    again = await reconciler.run(RestartKind.DAEMON)
    assert again.uncertain == []  # told once


def sample(cid: str, kills: int, at: float) -> Any:
    from stackmedic.resources.models import ContainerRef, ContainerSample

    return ContainerSample(at, ContainerRef(cid, "shop", "app", "shop-app-1"), "cgroups",
                           None, None, 1.0, 0.0, 0, 0, 0.0, kills)


async def test_one_kill_seen_by_event_and_cgroup_counter_counts_once(tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    running = box(started_at=T)
    await feed(exits, None, running, event("start", T))
    # A child process is OOM-killed; the container keeps running.
    await exits.on_oom_kill(sample("c1", 1, T + 3), [])  # the sampler saw it first
    await feed(exits, None, box(started_at=T), event("oom", T + 2))
    assert exits.oom_kills("shop", "app") == 1
    await feed(exits, None, box(started_at=T), event("oom", T + 8))
    await exits.on_oom_kill(sample("c1", 2, T + 9), [])
    assert exits.oom_kills("shop", "app") == 2
    # The kernel counted a third the engine did not report: the counter says so.
    await exits.on_oom_kill(sample("c1", 3, T + 12), [])
    seen = box(started_at=T)
    await feed(exits, None, seen, None)
    assert exits.oom_kills("shop", "app") == 3 and seen.oom_kills == 3


async def test_a_replayed_oom_event_is_not_counted_again(tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    await feed(exits, None, box(started_at=T), event("oom", T + 5))
    again = ledger(tmp_path)  # an agent restart replays events since its saved cursor
    await feed(again, None, box(started_at=T), event("oom", T + 5))
    assert again.oom_kills("shop", "app") == 1
    await feed(again, None, box(started_at=T), event("oom", T + 6))
    assert again.oom_kills("shop", "app") == 2


async def test_a_kill_inspected_after_the_restart_policy_acted_counts_once(
        tmp_path: Path) -> None:
    exits = ledger(tmp_path)
    await feed(exits, None, box(started_at=T), event("start", T))
    # The oom and die events are inspected only once the container runs again.
    restarted = box(started_at=T + 6, finished_at=T + 5, exit_code=137)
    await feed(exits, None, restarted, event("oom", T + 5))
    await feed(exits, None, restarted, event("die", T + 5))
    await feed(exits, None, restarted, event("start", T + 6))
    await exits.on_oom_kill(sample("c1", 0, T + 7), [])
    assert exits.oom_kills("shop", "app") == 1
    # The next run is killed too, and this time the exit is inspected in time.
    await feed(exits, None, restarted, event("oom", T + 9))
    dead = box(status="exited", exit_code=137, oom_killed=True, started_at=T + 6,
               finished_at=T + 9)
    await feed(exits, None, dead, event("die", T + 9))
    assert exits.oom_kills("shop", "app") == 2 and dead.oom_kills == 2
    assert ledger(tmp_path).oom_counts() == [
        {"project": "shop", "service": "app", "kills": 2, "last_at": T + 9}]


async def test_an_oom_event_told_twice_for_one_kill_counts_once(tmp_path: Path) -> None:
    # Measured on engine 20.10 (cgroup v1): two oom events 5 ms apart, then one die.
    exits = ledger(tmp_path)
    await feed(exits, None, box(started_at=T), event("oom", T + 5))
    await feed(exits, None, box(started_at=T), event("oom", T + 5.005))
    assert exits.oom_kills("shop", "app") == 1
    # A later kill in the same run (a worker process, the container kept running) counts,
    # and so does its echo not.
    await feed(exits, None, box(started_at=T), event("oom", T + 9))
    await feed(exits, None, box(started_at=T), event("oom", T + 9.004))
    killed = box(status="exited", exit_code=137, oom_killed=True, started_at=T,
                 finished_at=T + 9.05)
    await feed(exits, None, killed, event("die", T + 9.05))
    assert exits.oom_kills("shop", "app") == 2 and killed.oom_kills == 2


async def test_kills_of_a_fast_policy_loop_each_count_though_close(tmp_path: Path) -> None:
    # ``restart: always`` restarts after 0.1 s, 0.2 s, 0.4 s: each kill has a die of its
    # own, and on a loaded host every inspect already finds the next run (flag reset).
    exits = ledger(tmp_path)
    at = T + 5
    for backoff in (0.1, 0.2, 0.4, 0.8):
        after = at + 0.01 + backoff
        await feed(exits, None, box(started_at=after), event("oom", at))
        await feed(exits, None, box(started_at=after), event("oom", at + 0.004))  # its echo
        await feed(exits, None, box(started_at=after), event("die", at + 0.01))
        await feed(exits, None, box(started_at=after), event("start", after))
        at = after + 0.05
    assert exits.oom_kills("shop", "app") == 4
