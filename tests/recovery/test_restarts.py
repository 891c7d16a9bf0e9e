"""Host and daemon restarts are no failure of a deployment: escalation, the attempt budget,
give-ups, cut-short runs and the one summary, without Docker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from health.factories import container, reached
from stackmedic.alerts.episodes import Episodes, SubmitSummary
from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.health.model import DeploymentHealth, HealthTransition, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.observe.boot import RestartKind
from stackmedic.recovery.escalate import escalate
from stackmedic.recovery.events import RecoveryEvent
from stackmedic.recovery.evidence import Evidence, ServiceEvidence
from stackmedic.recovery.executor import ActionFailed
from stackmedic.recovery.policy import Phase
from stackmedic.recovery.reconcile import RestartReconciler
from stackmedic.recovery.rules import diagnose
from stackmedic.recovery.suggestions import ServiceAction
from stackmedic.recovery.summary import RestartSummary, place
from stackmedic.store.facts import Facts
from stackmedic.types import DesiredState, EventKind, Severity
from support.wait import async_wait_until

from .rig import Rig

NOW = 1_700_000_000.0
RESTART = NOW + 100  # when the daemon last started


def _exited() -> Evidence:
    app = ServiceEvidence(name="app", status="exited", desired="running", recover=True,
                          image="i", image_present=True, has_build=False, restart_policy=None,
                          has_healthcheck=False, running=False, exit_code=0)
    return Evidence("shop", "shop", "down", "", True, None, {"app": app}, [], [])


def _run(outcome: str, finished_at: float | None, action: str = "start",
         started_at: float | None = None) -> dict[str, Any]:
    return {"outcome": outcome, "finished_at": finished_at, "error": "app exited again",
            "started_at": started_at if started_at is not None else finished_at,
            "actions": [{"service": "app", "action": action}]}


# -- escalation never crosses a restart --------------------------------------------------

@pytest.mark.parametrize(("previous", "now", "expected"), [
    # recovered, then killed by a reboot 87 s later: no relapse, a plain start again
    (_run("recovered", RESTART - 10), RESTART + 77, ServiceAction.START),
    # recovered, then ill again 87 s later with the daemon up all along: a relapse
    (_run("recovered", RESTART + 10), RESTART + 97, ServiceAction.RECREATE),
    # recovered long ago: no relapse either way
    (_run("recovered", RESTART + 10), RESTART + 1000, ServiceAction.START),
    # a start that failed before the restart is about the deployment as it was
    (_run("failed", RESTART - 5), RESTART + 20, ServiceAction.START),
    # one that failed since is a failure of this daemon's lifetime
    (_run("failed", RESTART + 5), RESTART + 20, ServiceAction.RECREATE),
    # a run cut short by the shutdown (interrupted) is no failure
    (_run("interrupted", RESTART - 1), RESTART + 20, ServiceAction.START),
    (_run("interrupted", RESTART + 1), RESTART + 20, ServiceAction.START),
    # a run the shutdown left open (never finished) is judged by its start
    (_run("failed", None, started_at=RESTART - 30), RESTART + 20, ServiceAction.START),
], ids=["relapse-across-reboot", "relapse-same-daemon", "old-success", "failed-before",
        "failed-since", "interrupted-before", "interrupted-since", "open-before"])
def test_a_run_before_the_daemon_started_is_not_compared(
        previous: dict[str, Any], now: float, expected: ServiceAction) -> None:
    diagnosis = diagnose(_exited())
    escalate(diagnosis, previous, now, daemon_started=RESTART)
    assert [s.action for s in diagnosis.suggestions] == [expected]
    assert diagnosis.needs_human is None


def test_a_recreate_that_recovered_before_a_reboot_never_makes_a_give_up() -> None:
    diagnosis = diagnose(_exited())
    diagnosis.suggestions = [s.model_copy(update={"action": ServiceAction.RECREATE})
                             for s in diagnosis.suggestions]
    escalate(diagnosis, _run("recovered", RESTART - 3, "recreate"), RESTART + 84,
             daemon_started=RESTART)
    assert diagnosis.needs_human is None
    # Without the restart in between this is the give-up of issue 21's report.
    escalate(diagnosis, _run("recovered", RESTART - 3, "recreate"), RESTART + 84)
    assert diagnosis.needs_human is not None
    assert "failed twice the same way: it failed again 87s after it was recovered" \
        in diagnosis.needs_human


# -- the reconcile re-arms give-ups and spends no budget from before ---------------------

@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path, attempt_budget=2)
    made.add("blog", "app")
    await made.start()
    try:
        yield made
    finally:
        await made.close()


def reconciler(rig: Rig, facts: Facts | None = None) -> RestartReconciler:
    """The reconciler of the rig's recovery service."""
    return RestartReconciler(
        rig.service, catalog=rig.catalog, desired=rig.desired, health=rig.health,
        engine=rig.engine, events=rig.events, bus=rig.bus,
        containers=rig.observed.for_project, supervisor=rig.supervisor, facts=facts,
    )


async def _give_up_and_spend(rig: Rig) -> None:
    """``shop`` gave up and ``blog`` spent its budget, before the restart."""
    states = rig.service._states  # as a previous daemon left them
    shop = states.load("shop")
    rig.service.policy.give_up(shop, NOW, "recreate app failed twice the same way")
    states.save(shop)
    blog = states.load("blog")
    for _ in range(2):
        rig.service.policy.attempted(blog, states.clock.monotonic(), succeeded=False)
    states.save(blog)


async def test_a_restart_gives_every_given_up_deployment_one_fresh_verified_attempt(
        rig: Rig) -> None:
    await _give_up_and_spend(rig)
    await rig.service.on_engine_reached(reached(restart=RestartKind.HOST))
    await rig.crash("web")
    await rig.crash("db")
    await rig.crash("app", project="blog")

    summary = await reconciler(rig).run(RestartKind.HOST)

    assert summary.rearmed == ["shop"]
    assert summary.still_down == []
    assert sorted(b["deployment"] for b in summary.brought_back) == ["blog", "shop"]
    assert rig.outcomes("shop") == ["recovered"] and rig.outcomes("blog") == ["recovered"]
    assert rig.service.state("shop")["phase"] == Phase.IDLE.value
    assert "shop (start db, start web; it had given up before the restart)" in summary.message()
    cleared = rig.logged(EventKind.RECOVERY_CLEARED)
    assert [e["deployment"] for e in cleared] == ["shop"]
    assert cleared[0]["message"] == "recovery re-armed: host restart"


async def test_a_given_up_deployment_whose_fresh_attempt_fails_gives_up_again_at_once(
        rig: Rig) -> None:
    await _give_up_and_spend(rig)
    await rig.service.on_engine_reached(reached(restart=RestartKind.HOST))
    await rig.crash("web")
    await rig.crash("db")
    await rig.put(container("app", project="blog"))
    rig.executor.fail = [ActionFailed("no such image"), ActionFailed("no such image")]

    summary = await reconciler(rig).run(RestartKind.HOST)

    assert rig.outcomes("shop") == ["gave-up"]  # one attempt, not the whole ladder again
    [down] = summary.still_down
    assert down["deployment"] == "shop"
    assert down["why"].startswith("gave up: the one fresh attempt after the restart did not "
                                  "help either: start db failed: no such image")
    assert down["next"] == "needs a person: stackmedic start shop once it is fixed"
    assert "it had given up before the restart" in summary.message()


async def test_a_second_restart_cuts_the_first_reconcile_short_and_its_runs_are_no_failure(
        rig: Rig, tmp_path: Path) -> None:
    facts = Facts(rig.db)
    first = reconciler(rig, facts)
    rig.executor.hold = asyncio.Event()  # the first reconcile's actions hang ...
    await rig.service.on_engine_reached(reached(restart=RestartKind.HOST))
    await rig.crash("web")
    await first.on_engine_connected(_connected(RestartKind.HOST))
    await async_wait_until(lambda: rig.executor.waiting > 0, 10, message="acting")
    # ... when the daemon restarts again.
    await rig.service.on_engine_reached(reached(restart=RestartKind.DAEMON))
    rig.executor.hold.set()
    await first.on_engine_connected(_connected(RestartKind.DAEMON))
    await async_wait_until(lambda: first.last, 10, message="the second summary")
    assert first.last is not None
    assert rig.outcomes("shop")[0] == "interrupted"
    assert rig.outcomes("shop")[-1] == "recovered"
    assert rig.service.state("shop")["failures"] == 0
    assert [c["restart"] for c in first.last.cut_short] == ["host"]
    message = first.last.message()
    assert message.startswith("recovered after daemon restart")
    assert "reconcile after the host restart at" in message.splitlines()[0]
    summaries = rig.logged(EventKind.RESTART_SUMMARY)
    assert len(summaries) == 1  # one summary, covering both
    assert facts.get("restart-reconcile-pending") == ""


def _connected(kind: RestartKind) -> Any:
    from health.factories import connected
    return connected(restart=kind)


async def test_a_run_cut_short_keeps_what_it_did_and_the_next_agent_says_so(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, verify_stable_seconds=60)  # verifying outlasts the run
    await rig.start()
    try:
        await rig.put(container("web"))
        await rig.crash("db")
        run = asyncio.ensure_future(rig.service.recover("shop", "ill-health"))
        await async_wait_until(lambda: rig.executor.done, 10, message="acted")
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        [stored] = rig.runs.list("shop")
        assert stored["outcome"] == "interrupted"
        assert [(a["action"], a["service"], a["ok"]) for a in stored["actions"]] == [
            ("start", "db", True)]
    finally:
        await rig.close()


async def test_the_next_agent_tells_who_brought_back_a_deployment_a_killed_run_acted_on(
        tmp_path: Path) -> None:
    first = Rig(tmp_path)
    runs = first.runs
    run_id = runs.begin("shop", "ill-health", 1)
    runs.progress(run_id, [{"service": "db", "action": "start", "ok": True}])
    first.db.close()  # killed: the run row is left open
    rig = Rig(tmp_path)
    await rig.start()
    try:
        await rig.put(container("web"))
        assert rig.announced == []  # down while db is missing: nobody brought it back yet
        await rig.put(container("db"))
        [stored] = rig.runs.list("shop")
        assert stored["outcome"] == "interrupted" and stored["actions"]
        [said] = [e for e in rig.announced if e.kind == EventKind.RECOVERY_SUCCEEDED]
        assert said.deployment == "shop"
        assert said.message.startswith("recovered: start db (run ")
        assert "cut short when the agent stopped" in said.message
    finally:
        await rig.close()


async def test_after_a_reboot_a_killed_runs_action_is_not_what_brought_it_back(
        tmp_path: Path) -> None:
    first = Rig(tmp_path)
    run_id = first.runs.begin("shop", "ill-health", 1)
    first.runs.progress(run_id, [{"service": "db", "action": "start", "ok": True}])
    first.db.close()
    rig = Rig(tmp_path)
    await rig.start()
    try:
        await rig.service.on_engine_reached(reached(restart=RestartKind.HOST))
        await rig.put(container("web"), container("db"))  # started by their restart policy
        assert [e for e in rig.announced if e.kind == EventKind.RECOVERY_SUCCEEDED] == []
    finally:
        await rig.close()


# -- every deployment in exactly one line ---------------------------------------------------

def _invalid() -> DeploymentHealth:
    deployment = Deployment("shop", "shop", DeploymentKind.FOLDER, None, [], {},
                            error="services.app Additional property imagee is not allowed")
    return evaluate(HealthInputs(deployment, [], DesiredState.RUNNING, NOW))


def test_an_invalid_compose_file_is_still_down_with_composes_error() -> None:
    summary = RestartSummary(RestartKind.HOST)
    place(summary, "shop", _invalid(), [], None, 0.5)
    summary.account(["shop"])
    assert summary.still_down == [{
        "deployment": "shop",
        "why": "compose file invalid: services.app Additional property imagee is not allowed",
        "next": "stackmedic acts once the compose file is valid again"}]
    assert summary.unaccounted == []
    assert ("- still down: shop (compose file invalid: services.app Additional property "
            "imagee is not allowed; stackmedic acts once the compose file is valid again)"
            ) in summary.message()


def test_a_deployment_whose_folder_is_gone_has_its_own_line() -> None:
    summary = RestartSummary(RestartKind.HOST)
    summary.not_found = [{"deployment": "old", "why": "its compose folder is gone"}]
    summary.account(["old"])
    assert summary.unaccounted == []
    assert "- no longer found: old (its compose folder is gone)" in summary.message()


def _down_health() -> DeploymentHealth:
    deployment = Deployment("shop", "shop", DeploymentKind.FOLDER, None, [],
                            {"app": ServiceSpec("app")})
    return evaluate(HealthInputs(deployment, [container("app", status="exited", exit_code=3)],
                                 DesiredState.RUNNING, NOW))


# -- one notification says one thing ----------------------------------------------------

def _summary_event(still_down: list[dict[str, str]]) -> RecoveryEvent:
    return RecoveryEvent(EventKind.RESTART_SUMMARY, None, "recovered after host restart",
                         Severity.WARNING, NOW, {"restart": "host", "still_down": still_down})


@pytest.mark.parametrize(("still_down", "expected"), [
    ([{"deployment": "shop", "why": "gave up: recreate app failed",
       "next": "needs a person: stackmedic start shop once it is fixed"}],
     "needs a person: stackmedic start shop once it is fixed"),
    ([{"deployment": "shop", "why": "app exited", "next": "stackmedic tries again in 10s"}],
     "stackmedic tries again in 10s"),
    ([], None),  # back up in the summary: nothing comes next
], ids=["gave-up", "retried", "came-back"])
def test_a_summary_never_promises_what_it_says_will_not_happen(
        still_down: list[dict[str, str]], expected: str | None) -> None:
    episodes = Episodes(recovery_note="stackmedic will diagnose and try to recover it after 3s")
    episodes.reconcile_started()
    health = _down_health()
    episodes.on_health(HealthTransition("shop", None, health, NOW))
    [out] = episodes.on_recovery(_summary_event(still_down))
    assert isinstance(out, SubmitSummary)
    [member] = out.members
    assert member.details.get("next_action") == expected
    assert "try to recover it after" not in str(member.details)


def test_the_cut_short_restart_is_named_on_the_first_line() -> None:
    summary = RestartSummary(RestartKind.HOST)
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC).timestamp()
    summary.cut_short = [{"restart": "host", "at": at, "at_text": "08:00:00 UTC"}]
    first = summary.message().splitlines()[0]
    assert first == ("recovered after host restart (0s) (it came before the reconcile after "
                     "the host restart at 08:00:00 UTC had finished; this summary covers both):")


def test_a_verdict_of_an_ill_deployment_is_still_down_with_what_comes_next() -> None:
    summary = RestartSummary(RestartKind.DAEMON)
    place(summary, "shop", _down_health(), [], None, None)
    assert summary.still_down[0]["next"] == \
        "needs a person: stackmedic start shop once it is fixed"
    assert _down_health().verdict is Verdict.DOWN


def test_the_summary_notices_details_word_each_deployment_as_its_lines_do() -> None:
    from stackmedic.alerts.messages import from_recovery

    summary = RestartSummary(RestartKind.HOST)
    summary.brought_back = [{"deployment": "shop", "how": "start app", "acted_at": NOW}]
    summary.still_down = [{"deployment": "blog", "why": "gave up: recreate app failed",
                           "next": "needs a person: stackmedic start blog once it is fixed"}]
    summary.not_found = [{"deployment": "old", "why": "its compose folder is gone"}]
    summary.rearmed = ["shop"]
    event = RecoveryEvent(EventKind.RESTART_SUMMARY, None, summary.message(),
                          Severity.WARNING, NOW, summary.as_dict())
    notice = from_recovery(event)
    assert notice is not None
    details = notice.details
    assert details["brought back by stackmedic"] == \
        "shop (start app; it had given up before the restart)"
    assert details["still down"] == ("blog (gave up: recreate app failed; needs a person: "
                                     "stackmedic start blog once it is fixed)")
    assert details["no longer found"] == "old (its compose folder is gone)"
    for line in summary.message().splitlines()[1:]:
        label, _, items = line[2:].partition(": ")
        if items != "none" and label in details:
            assert items == str(details[label]).replace("\n", ", "), label
