"""Which deployments a person must look at: down, wanted running, and recovery will not act."""

from __future__ import annotations

from stackmedic.deployments.attention import needs_attention

GAVE_UP = {"phase": "gave-up", "gave_up_at": 1_700_000_000.0,
           "gave_up_reason": "3 attempts in 600s did not help"}


def test_down_and_wanted_running_with_recovery_off_needs_a_person() -> None:
    found = needs_attention("down", "running", recovery_enabled=False, recoverable=True,
                            recovery=None)
    assert found is not None and found.why == "recovery-off"
    assert found.message == "down, wanted running, recovery is off (recovery.enabled)"


def test_a_give_up_is_named_with_its_time_and_reason() -> None:
    found = needs_attention("down", "running", recovery_enabled=True, recoverable=True,
                            recovery=GAVE_UP)
    assert found is not None and (found.why, found.at, found.detail) == (
        "gave-up", 1_700_000_000.0, "3 attempts in 600s did not help")
    assert found.as_dict("shop")["fix"] == ["stackmedic start shop", "stackmedic stop shop"]


def test_services_that_opted_out_of_recovery_need_a_person() -> None:
    found = needs_attention("down", "running", recovery_enabled=True, recoverable=False,
                            recovery=None)
    assert found is not None and found.why == "not-recoverable"


def test_nothing_to_flag_while_recovery_can_act_or_nothing_is_wrong() -> None:
    assert needs_attention("down", "running", recovery_enabled=True, recoverable=True,
                           recovery={"phase": "backoff"}) is None
    for verdict, desired in (("down", "stopped"), ("healthy", "running"),
                             ("stopping", "running"), ("degraded", "running"),
                             ("down", None)):
        assert needs_attention(verdict, desired, recovery_enabled=False, recoverable=False,
                               recovery=GAVE_UP) is None, (verdict, desired)


def test_the_dashboard_row_carries_the_attention_message() -> None:
    from stackmedic.web.views.overview import deployment_summary

    found = needs_attention("down", "running", recovery_enabled=False, recoverable=True,
                            recovery=None)
    assert found is not None
    row = {"name": "shop", "state": "stopped", "containers": {"total": 1, "running": 0},
           "health": {"verdict": "down", "reason": "app exited with code 3"},
           "desired": {"state": "running"}, "attention": found.as_dict("shop")}
    shown = deployment_summary(row, None, {})
    assert shown["attention"] == "down, wanted running, recovery is off (recovery.enabled)"
    assert deployment_summary({**row, "attention": None}, None, {})["attention"] == ""
