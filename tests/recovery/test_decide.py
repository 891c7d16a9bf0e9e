"""The new recovery rules, pure: why a container exited, one-shot jobs, crash loops that end,
the summary's buckets, dependents, escalation, and the adviser's answer judged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stackmedic.deployments.model import Deployment, DeploymentKind, ServiceSpec
from stackmedic.health.crashloop import CrashLoopTracker
from stackmedic.health.model import ServiceStatus, Verdict
from stackmedic.health.verdict import HealthInputs, evaluate
from stackmedic.observe.boot import RestartKind
from stackmedic.observe.containers import ContainerState
from stackmedic.recovery.dependents import with_dependents
from stackmedic.recovery.escalate import escalate
from stackmedic.recovery.evidence import Evidence, ServiceEvidence
from stackmedic.recovery.executor import ActionOutcome
from stackmedic.recovery.exits import ExitRecord, exit_cause
from stackmedic.recovery.outcome import RunResult
from stackmedic.recovery.planner import judge_advice
from stackmedic.recovery.reconcile import RestartSummary, place
from stackmedic.recovery.rules import Diagnosis, diagnose
from stackmedic.recovery.suggestions import ServiceAction, Suggestion
from stackmedic.recovery.verify import died_again
from stackmedic.types import DesiredState

NOW = 1_700_000_000.0


def box(service: str = "app", status: str = "running", **fields: Any) -> ContainerState:
    return ContainerState(id=fields.pop("id", f"id-{service}"), name=f"shop-{service}-1",
                          project="shop", service=service, status=status, **fields)


def judge(services: dict[str, ServiceSpec], containers: list[ContainerState]) -> Any:
    deployment = Deployment("shop", "shop", DeploymentKind.FOLDER, None, [], services)
    return evaluate(HealthInputs(deployment, containers, DesiredState.RUNNING, NOW))


# -- why a container exited ------------------------------------------------------------

def test_a_stop_request_before_the_exit_makes_it_a_stop() -> None:
    record = ExitRecord("id-app", "shop", "app", stop_requested_at=NOW - 5)
    state = box(status="exited", exit_code=0, started_at=NOW - 100, finished_at=NOW - 4)
    assert exit_cause(record, state, seen_die=True, daemon_started_at=None) == "stop"


def test_a_die_seen_without_a_stop_is_its_own_exit() -> None:
    record = ExitRecord("id-app", "shop", "app", stop_requested_at=NOW - 500)  # earlier run
    state = box(status="exited", exit_code=0, started_at=NOW - 100, finished_at=NOW - 4)
    assert exit_cause(record, state, seen_die=True, daemon_started_at=None) == "own"


def test_running_when_the_daemon_went_down_is_a_stop() -> None:
    record = ExitRecord("id-app", "shop", "app", running_seen_at=NOW - 300)
    state = box(status="exited", exit_code=0, started_at=NOW - 1000, finished_at=NOW - 60)
    assert exit_cause(record, state, seen_die=False, daemon_started_at=NOW - 30) == "stop"
    # Exited under the current daemon while unseen: nothing proves a stop.
    assert exit_cause(record, state, seen_die=False, daemon_started_at=NOW - 90) == ""
    never_seen = ExitRecord("id-app", "shop", "app")
    assert exit_cause(never_seen, state, seen_die=False, daemon_started_at=NOW - 30) == ""


@pytest.mark.parametrize(
    ("fields", "completed"),
    [
        ({"restart_policy": "no"}, True),
        ({"restart_policy": "no", "exit_cause": "own"}, True),
        ({"restart_policy": "no", "exit_cause": "stop"}, False),  # the reboot's SIGTERM
        ({"restart_policy": "on-failure"}, True),  # Docker leaves an exit 0 alone there
        ({"restart_policy": "on-failure", "exit_cause": "stop"}, False),
        ({"restart_policy": "always"}, False),
        ({"restart_policy": "always", "job": True}, True),
        ({"restart_policy": "unless-stopped", "job": True, "exit_cause": "stop"}, False),
        ({"restart_policy": "no", "exit_code": 1}, False),
        ({"restart_policy": "no", "oom_killed": True}, False),
    ],
)
def test_only_jobs_that_ended_by_themselves_are_completed(
        fields: dict[str, Any], completed: bool) -> None:
    state = box(status="exited", **{"exit_code": 0, **fields})
    assert state.completed is completed


def test_graceful_service_stopped_by_a_reboot_is_down_not_completed() -> None:
    health = judge({"app": ServiceSpec("app")},
                   [box(status="exited", exit_code=0, exit_cause="stop")])
    assert health.verdict is Verdict.DOWN
    assert health.service("app").status is ServiceStatus.EXITED


def test_declared_job_that_completed_is_fine_beside_its_dependent() -> None:
    health = judge({"migrate": ServiceSpec("migrate"), "app": ServiceSpec("app")},
                   [box("migrate", "exited", exit_code=0, job=True, exit_cause="own",
                        restart_policy="unless-stopped"), box("app")])
    assert health.verdict is Verdict.HEALTHY
    assert health.service("migrate").status is ServiceStatus.COMPLETED


# -- crash loops end when the service runs stably ---------------------------------------

def _die(state: ContainerState, at: float) -> dict[str, Any]:
    return {"Action": "die", "timeNano": int(at * 1e9),
            "Actor": {"Attributes": {"exitCode": "3"}}}


def test_crash_loop_ends_once_the_service_ran_stably_after_the_last_crash() -> None:
    tracker = CrashLoopTracker(threshold=3, window=300, stable=5)
    for i in range(3):
        at = NOW + i * 10
        dead = box(status="exited", exit_code=3, started_at=at - 3, finished_at=at)
        tracker.observe(None, dead, _die(dead, at), at)
    assert "app" in tracker.loops("shop", NOW + 21)
    up = box(status="running", started_at=NOW + 22)
    tracker.observe(None, up, None, NOW + 22)
    loop = tracker.loops("shop", NOW + 24)
    # Rechecked when the stable period ends: twice the 3 s each run lasted.
    assert loop["app"].until == NOW + 28
    assert tracker.loops("shop", NOW + 28.5) == {}
    assert tracker.crashes("shop", "app", NOW + 28) == []  # the loop is over for good


# -- verify fails fast -------------------------------------------------------------------

def test_a_container_dying_again_by_itself_after_the_action_fails_verification() -> None:
    since = NOW
    restarted = box(status="exited", exit_code=3, started_at=NOW + 1, finished_at=NOW + 4,
                    exit_cause="own")
    assert died_again([restarted], {"app"}, since) is restarted
    stopped_by_restart = box(status="running", started_at=NOW + 2, finished_at=NOW + 1,
                             exit_cause="stop")
    assert died_again([stopped_by_restart], {"app"}, since) is None
    old_exit = box(status="exited", exit_code=3, finished_at=NOW - 50)
    assert died_again([old_exit], {"app"}, since) is None
    assert died_again([restarted], {"other"}, since) is None


# -- the restart summary's buckets -------------------------------------------------------

def _result(outcome: str, acted_at: float | None, *done: tuple[str, ServiceAction],
            message: str = "") -> RunResult:
    actions = [ActionOutcome(Suggestion(service=s, action=a), True, 0.1) for s, a in done]
    return RunResult("shop", outcome, None, actions, message, 1, acted_at)


def test_summary_states_only_what_was_verified() -> None:
    specs = {"app": ServiceSpec("app")}
    up = judge(specs, [box(started_at=NOW + 10)])
    down = judge(specs, [box(status="exited", exit_code=0, exit_cause="stop")])
    summary = RestartSummary(RestartKind.HOST)
    place(summary, "itself", up, [box(started_at=NOW + 10)], None)
    place(summary, "ours", up, [box(started_at=NOW + 10)],
          _result("recovered", NOW + 5, ("app", ServiceAction.START)))
    # acted, but its container had started before: it came back by itself
    place(summary, "before", up, [box(started_at=NOW + 1)],
          _result("recovered", NOW + 5, ("app", ServiceAction.START)))
    # "nothing to do" on a deployment that is down is never "came back by itself"
    place(summary, "nothing", down, [], _result("nothing-to-do", None, message="no rule"), 0.5)
    place(summary, "failed", down, [], _result("gave-up", NOW, message="image unavailable"), 0.5)
    summary.sort()
    summary.account(["itself", "ours", "before", "nothing", "failed", "lost"])
    assert summary.came_back == ["before", "itself"]
    assert summary.brought_back == [{"deployment": "ours", "how": "start app",
                                     "acted_at": NOW + 5}]
    assert summary.still_down == [
        {"deployment": "failed", "why": "gave up: image unavailable",
         "next": "needs a person: stackmedic start failed once it is fixed"},
        {"deployment": "nothing", "why": "no rule", "next": "stackmedic tries again in 0.5s"},
    ]
    assert summary.unaccounted == ["lost"]
    assert "- not accounted for (a bug in stackmedic, please report): lost" in summary.message()


def test_completed_jobs_are_listed_as_such() -> None:
    specs = {"migrate": ServiceSpec("migrate"), "app": ServiceSpec("app")}
    job = box("migrate", "exited", exit_code=0, job=True, exit_cause="own")
    summary = RestartSummary(RestartKind.HOST)
    place(summary, "shop", judge(specs, [job, box(started_at=NOW)]), [box()], None)
    place(summary, "batch", judge({"migrate": ServiceSpec("migrate")}, [job]), [], None)
    summary.sort()
    summary.account(["shop", "batch"])
    assert summary.came_back == ["shop"]
    assert [c["deployment"] for c in summary.completed] == ["batch", "shop"]
    assert summary.unaccounted == []
    assert "- jobs completed: batch (migrate), shop (migrate)" in summary.message()


def test_services_stopped_again_are_named_for_deployments_wanted_running_too() -> None:
    summary = RestartSummary(RestartKind.HOST)
    summary.left_stopped = ["parked"]
    summary.stopped_again = [{"deployment": "parked", "services": "app"},
                             {"deployment": "half", "services": "worker"}]
    assert ("- left stopped on purpose: half (worker stopped again: Docker's restart policy "
            "had started it), parked (app stopped again: Docker's restart policy had started "
            "it)") in summary.message()


# -- dependents follow -------------------------------------------------------------------

def svc(name: str, status: str = "running", **kw: Any) -> ServiceEvidence:
    base: dict[str, Any] = dict(desired="running", recover=True, image="i", image_present=True,
                                has_build=False, restart_policy=None, has_healthcheck=False,
                                running=status == "running")
    base.update(kw)
    return ServiceEvidence(name=name, status=status, **base)


def ev(*services: ServiceEvidence) -> Evidence:
    return Evidence("shop", "shop", "down", "", True, None, {s.name: s for s in services},
                    [], [])


def test_sidecar_and_dependents_follow_a_recreated_service_in_order() -> None:
    evidence = ev(svc("main", "exited"), svc("side", network_mode="service:main",
                                             depends_on=["main"]),
                  svc("web", depends_on=["main"]), svc("proxy", depends_on=["web"]),
                  svc("migrate", "completed"), svc("other"))
    planned = [Suggestion(service="main", action=ServiceAction.RECREATE)]
    result = [(s.service, s.action) for s in with_dependents(planned, evidence)]
    assert sorted(result) == [("main", ServiceAction.RECREATE), ("proxy", ServiceAction.RESTART),
                              ("side", ServiceAction.RECREATE), ("web", ServiceAction.RESTART)]
    order = [name for name, _ in result]
    assert order[0] == "main" and order.index("web") < order.index("proxy")


def test_planned_start_of_a_sidecar_becomes_a_recreate_when_its_owner_is_recreated() -> None:
    evidence = ev(svc("main", "exited"), svc("side", "exited", network_mode="service:main"))
    planned = [Suggestion(service="main", action=ServiceAction.RECREATE),
               Suggestion(service="side", action=ServiceAction.START)]
    assert [(s.service, s.action) for s in with_dependents(planned, evidence)] == [
        ("main", ServiceAction.RECREATE), ("side", ServiceAction.RECREATE)]


def test_a_stopped_pair_is_started_together_the_sidecar_joining_the_same_owner() -> None:
    evidence = ev(svc("main", "exited"), svc("side", "exited", network_mode="service:main"))
    planned = [Suggestion(service="main", action=ServiceAction.START),
               Suggestion(service="side", action=ServiceAction.START)]
    assert [(s.service, s.action) for s in with_dependents(planned, evidence)] == [
        ("main", ServiceAction.START), ("side", ServiceAction.START)]


def test_a_sidecar_is_recreated_when_its_owner_has_no_container_left() -> None:
    evidence = ev(svc("main", "missing"), svc("side", "exited", network_mode="service:main"))
    planned = [Suggestion(service="main", action=ServiceAction.START),
               Suggestion(service="side", action=ServiceAction.START)]
    assert [(s.service, s.action) for s in with_dependents(planned, evidence)] == [
        ("main", ServiceAction.START), ("side", ServiceAction.RECREATE)]


# -- a repeated identical failure changes the diagnosis ------------------------------------

def _failed(*actions: tuple[str, str], error: str = "app exited again with code 3") -> Any:
    return {"outcome": "failed", "error": error,
            "actions": [{"service": s, "action": a} for s, a in actions]}


def test_repeated_failure_goes_from_start_to_recreate_to_a_person_with_the_log_tail() -> None:
    first = diagnose(ev(svc("app", "exited", exit_code=3)))
    escalate(first, None)
    assert [s.action for s in first.suggestions] == [ServiceAction.START]
    second = diagnose(ev(svc("app", "exited", exit_code=3)))
    escalate(second, _failed(("app", "start")))
    assert [s.action for s in second.suggestions] == [ServiceAction.RECREATE]
    third = diagnose(ev(svc("app", "exited", exit_code=3)))
    third.log_tail = {"app": ["booting", "fatal config error"]}
    escalate(third, _failed(("app", "recreate")))
    assert third.suggestions == []
    assert third.needs_human is not None
    assert third.needs_human.startswith("recreate app failed twice the same way: app exited")
    assert "last log lines of app:\n  booting\n  fatal config error" in third.needs_human
    other = diagnose(ev(svc("app", "exited", exit_code=3)))
    escalate(other, _failed(("db", "start")))  # a different failure: no change
    assert [s.action for s in other.suggestions] == [ServiceAction.START]


# -- the adviser's answer, judged --------------------------------------------------------

def _consult(outcome: str, suggestions: list[Suggestion] | None = None,
             dropped: list[str] | None = None, declined: bool = False,
             text: str = "answer") -> Any:
    advice = SimpleNamespace(diagnosis=text, suggestions=suggestions or [],
                             dropped=dropped or [], declined=declined)
    return SimpleNamespace(outcome=outcome, advice=advice, error="")


def test_a_refused_answer_falls_back_to_the_rules_and_says_why() -> None:
    rules = Diagnosis("app exited", [Suggestion(service="app", action=ServiceAction.START)])
    got = judge_advice(_consult("nothing-valid", dropped=["#0: action: Input should be"]),
                       rules)
    assert got.source == "rules"
    assert got.suggestions == rules.suggestions
    assert got.llm is not None and got.llm["used"] is False
    assert got.llm["why_not_used"] == "#0: action: Input should be"
    assert got.llm["answer"] == "answer"


def test_an_explicit_empty_list_leads_to_a_give_up_with_its_reason() -> None:
    rules = Diagnosis("app exited", [Suggestion(service="app", action=ServiceAction.START)])
    got = judge_advice(_consult("nothing-valid", declined=True, text="the disk is full"), rules)
    assert got.suggestions == []
    assert got.needs_human == "the adviser says no action would help: the disk is full"
    assert got.source == "llm"


def test_failed_call_is_recorded_with_its_error() -> None:
    rules = Diagnosis("app exited", [Suggestion(service="app", action=ServiceAction.START)])
    got = judge_advice(SimpleNamespace(outcome="timed-out", advice=None,
                                       error="no answer within 20s"), rules)
    assert got.source == "rules"
    assert got.llm == {"outcome": "timed-out", "used": False, "error": "no answer within 20s",
                       "why_not_used": "no answer within 20s"}


def test_a_deployment_of_completed_jobs_only_is_never_down() -> None:
    health = judge({"migrate": ServiceSpec("migrate")},
                   [box("migrate", "exited", exit_code=0, job=True, exit_cause="own")])
    assert health.verdict is Verdict.HEALTHY
    assert health.reason == "0 of 1 services running; migrate completed"


def test_diagnose_renders_the_advisers_refusal_oom_kills_and_the_log_tail() -> None:
    from stackmedic.cli.diagnose import render_diagnosis

    body = {
        "diagnosis": {
            "summary": "app exited with code 3", "source": "rules", "needs_human": None,
            "details": ["app exited with code 3"],
            "suggestions": [{"action": "start", "service": "app", "reason": "it exited"}],
            "log_tail": {"app": ["", "booting", "fatal config error"]},
            "llm": {"used": False, "answer": "Stop it.\nMore text.",
                    "why_not_used": "#0: action: Input should be 'start', ..."},
        },
        "evidence": {"services": {"app": {"oom_kills_recent": 2}, "db": {}}},
    }
    assert render_diagnosis("shop", body).splitlines() == [
        "shop: app exited with code 3",
        "source: rules",
        "  - app exited with code 3",
        "adviser not used: #0: action: Input should be 'start', ... (it answered: \"Stop it.\")",
        "app: OOM-killed 2 times",
        "would do:",
        "  start           app                  it exited",
        "last log lines of app:",
        "  booting",
        "  fatal config error",
    ]
