"""What is done to a deployment on purpose, read from engine events and stackmedic's actions."""

from __future__ import annotations

from stackmedic.deployments.events import ActionFinished, ActionOrigin, ActionStarted
from stackmedic.health.activity import DIE_TO_STOP_SECONDS, Activity

NOW = 1_700_000_000.0
GRACE = 30.0


def activity() -> Activity:
    return Activity(start_grace=GRACE)


def test_a_stop_signal_then_die_and_stop_is_a_stop_until_it_is_judged() -> None:
    a = activity()
    for step, action in enumerate(("kill", "die", "stop")):
        a.container_event("shop", "c1", action, "15" if action == "kill" else None,
                          NOW + step * 0.01, NOW + step * 0.01)
        assert a.stopping("shop", NOW + step * 0.01) is not None
    a.pending_changed("shop", True)  # the intent tracker holds the stop
    assert a.stopping("shop", NOW + 60) is not None
    a.pending_changed("shop", False)  # and judged it
    assert a.stopping("shop", NOW + 60) is None


def test_a_judged_stop_ends_the_stop_marks_at_once() -> None:
    a = activity()
    a.container_event("shop", "c1", "kill", "15", NOW, NOW)
    a.container_event("shop", "c1", "die", None, NOW, NOW)
    a.container_event("shop", "c1", "stop", None, NOW, NOW)
    a.pending_changed("shop", True)
    a.pending_changed("shop", False)  # e.g. inside a daemon shutdown: not a person's
    assert a.stopping("shop", NOW + 0.1) is None


def test_a_stop_nobody_holds_ends_shortly_after_its_stop_event() -> None:
    a = activity()
    for action in ("kill", "die", "stop"):
        a.container_event("shop", "c1", action, "15" if action == "kill" else None, NOW, NOW)
    assert a.stopping("shop", NOW + DIE_TO_STOP_SECONDS / 2) is not None
    assert a.stopping("shop", NOW + DIE_TO_STOP_SECONDS + 0.1) is None
    assert a.stopping("shop", NOW + 60, pending=True) is not None  # the tracker still waits


def test_a_kill_without_a_stop_is_a_stop_until_the_intent_tracker_holds_it() -> None:
    a = activity()
    a.container_event("shop", "c1", "kill", "9", NOW, NOW)  # docker kill
    a.container_event("shop", "c1", "die", None, NOW, NOW)
    assert a.stopping("shop", NOW) == "containers are being stopped on purpose"
    # From its die the tracker holds it as a pending stop; the mark only bridges to that.
    assert a.stopping("shop", NOW + DIE_TO_STOP_SECONDS + 0.1) is None
    assert a.stopping("shop", NOW + DIE_TO_STOP_SECONDS + 0.1, pending=True) is not None


def test_a_start_read_after_the_container_stopped_again_does_not_end_the_stop() -> None:
    a = activity()
    a.container_event("shop", "c1", "kill", "15", NOW, NOW)
    a.container_event("shop", "c1", "start", None, NOW, NOW, running=False)
    assert a.stopping("shop", NOW) is not None
    a.container_event("shop", "c1", "start", None, NOW, NOW, running=True)
    assert a.stopping("shop", NOW) is None


def test_a_persons_restart_through_stackmedic_is_stopping_while_it_runs() -> None:
    a = activity()
    a.action_started(ActionStarted("shop", "restart", ActionOrigin.PERSON, NOW))
    assert a.stopping("shop", NOW) == "restart requested through stackmedic"
    a.container_event("shop", "c1", "kill", "15", NOW + 1, NOW + 1)
    a.container_event("shop", "c1", "die", None, NOW + 1, NOW + 1)
    a.action_finished(ActionFinished("shop", "restart", ActionOrigin.PERSON, True, NOW + 2))
    # Its events, read after it finished, still belong to it.
    assert a.stopping("shop", NOW + 2) is not None
    a.container_event("shop", "c1", "start", None, NOW + 1.5, NOW + 2.5)
    assert a.stopping("shop", NOW + 2.5) is None


def test_recoveries_and_a_persons_start_are_neither_stops_nor_redeploys() -> None:
    a = activity()
    a.action_started(ActionStarted("shop", "recover", ActionOrigin.RECOVERY, NOW))
    for action in ("kill", "die", "stop", "create", "start"):
        a.container_event("shop", "c1", action, "15", NOW + 1, NOW + 1)
    a.action_finished(ActionFinished("shop", "recover", ActionOrigin.RECOVERY, True, NOW + 2))
    assert a.stopping("shop", NOW + 2) is None
    assert a.deploying_until("shop", NOW + 2) is None


def test_a_container_created_by_someone_else_is_a_redeploy_for_the_start_grace() -> None:
    a = activity()
    a.container_event("shop", "c2", "create", None, NOW, NOW)
    assert a.deploying_until("shop", NOW) == NOW + GRACE
    a.container_event("shop", "c2", "start", None, NOW + 5, NOW + 5)
    assert a.deploying_until("shop", NOW + 5) == NOW + 5 + GRACE
    a.settled("shop")
    assert a.deploying_until("shop", NOW + 6) is None
    a.container_event("shop", "c3", "create", None, NOW + 7, NOW + 7)
    assert a.deploying_until("shop", NOW + 7 + GRACE) is None


def test_a_redeploy_lasts_while_an_old_container_takes_its_stop_timeout() -> None:
    """Compose starts the new containers once every old one stopped: db, ignoring SIGTERM,
    holds them for its whole stop timeout, longer than the start grace."""
    a = activity()
    a.container_event("shop", "new-db", "create", None, NOW, NOW)
    a.container_event("shop", "db", "kill", "15", NOW, NOW)
    stop_timeout = 25.0
    for later in (1.0, stop_timeout - 1):
        assert a.deploying_until("shop", NOW + later) == NOW + later + GRACE
    a.container_event("shop", "db", "kill", "9", NOW + stop_timeout, NOW + stop_timeout)
    a.container_event("shop", "db", "die", None, NOW + stop_timeout, NOW + stop_timeout)
    ended = NOW + stop_timeout + GRACE
    assert a.deploying_until("shop", ended - 1) == ended
    assert a.deploying_until("shop", ended + 1) is None


def test_a_redeploy_lasts_while_new_containers_wait_for_a_healthcheck() -> None:
    """``depends_on: condition: service_healthy``: Compose starts web once db passes its
    check, which may take longer than the start grace."""
    a = activity()
    a.container_event("shop", "new-web", "create", None, NOW, NOW)
    later = NOW + GRACE - 1
    for _ in range(3):  # each recheck while db's check has not passed renews it
        assert a.deploying_until("shop", later, waiting=True) == later + GRACE
        later += GRACE - 1
    assert a.deploying_until("shop", later) == later + 1  # db passed: no renewal
    assert a.deploying_until("shop", later + 2) is None


def test_a_judged_stop_of_one_container_keeps_a_slow_stop_of_another() -> None:
    """`docker compose restart`: app stops at once, db ignores SIGTERM and dies later."""
    a = activity()
    a.container_event("shop", "db", "kill", "15", NOW, NOW)
    for action in ("kill", "die", "stop"):
        a.container_event("shop", "app", action, "15" if action == "kill" else None, NOW, NOW)
    a.pending_changed("shop", True)
    a.pending_changed("shop", False)  # app's stop judged: it runs again
    assert a.stopping("shop", NOW + 2) is not None  # db is still being stopped
    a.container_event("shop", "db", "kill", "9", NOW + 2, NOW + 2)  # the grace ran out
    a.container_event("shop", "db", "die", None, NOW + 2, NOW + 2)
    assert a.stopping("shop", NOW + 2) is not None


def test_a_redeploy_stays_deploying_while_its_old_containers_stop_slowly() -> None:
    a = Activity(start_grace=2)
    a.container_event("shop", "new", "create", None, NOW, NOW)
    a.container_event("shop", "old", "kill", "15", NOW + 1.5, NOW + 1.5)
    a.container_event("shop", "old", "kill", "9", NOW + 3, NOW + 3)
    a.container_event("shop", "old", "die", None, NOW + 3, NOW + 3)
    assert a.deploying_until("shop", NOW + 4.5) == NOW + 5


def test_own_recovery_is_told_while_it_acts_and_shortly_after() -> None:
    a = activity()
    a.action_started(ActionStarted("shop", "recover", ActionOrigin.RECOVERY, NOW))
    assert a.recovering("shop", NOW) == "stackmedic is recovering it"
    a.action_finished(ActionFinished("shop", "recover", ActionOrigin.RECOVERY, True, NOW + 1),
                      NOW + 1)
    assert a.recovering("shop", NOW + 2) is not None
    assert a.next_check("shop", NOW + 2) is not None
    assert a.recovering("shop", NOW + 10) is None


def test_a_persons_action_is_not_recovery() -> None:
    a = activity()
    a.action_started(ActionStarted("shop", "start", ActionOrigin.PERSON, NOW))
    assert a.recovering("shop", NOW) is None


def test_an_unpaused_container_waits_for_its_next_healthcheck() -> None:
    a = activity()
    a.container_event("shop", "c1", "pause", None, NOW, NOW)
    assert a.unpaused("shop") == frozenset()
    a.container_event("shop", "c1", "unpause", None, NOW + 1, NOW + 1)
    assert a.unpaused("shop") == {"c1"}
    a.container_event("shop", "c1", "health_status", None, NOW + 2, NOW + 2)
    assert a.unpaused("shop") == frozenset()
