"""What people read: titles, plain text and HTML built from stored events."""

from __future__ import annotations

from datetime import UTC, datetime

from notify.conftest import make_event, recovered_event
from stackmedic.notify import MessageEvent, NotificationEvent, RenderedMessage
from stackmedic.notify.outbox import StoredNotification
from stackmedic.notify.render import RenderContext, render

STARTED = datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)


def rendered(
    *events: NotificationEvent, note: str | None = None, deployment: str | None = "shop"
) -> RenderedMessage:
    items = tuple(
        MessageEvent(event=e, alert_severity="critical", alert_started_at=STARTED, note=note)
        for e in events
    )
    stored = StoredNotification(
        3, "k3", deployment, "critical", STARTED.timestamp(), STARTED.timestamp(), items
    )
    return render(stored, RenderContext(host="web01", public_url="https://sm.example/"))


def test_single_problem_reads_as_an_actionable_message() -> None:
    msg = rendered(
        make_event(
            details={
                "exit_code": 137,
                "reason": "OOMKilled",
                "since": "2024-05-01 11:58 UTC",
                "action_taken": "restarted web",
                "next_action": "retry in 30 s, give up after 3 tries",
                "memory_limit": "512M",
            }
        )
    )
    assert msg.subject == "[stackmedic] CRITICAL PROBLEM: shop: web exited with code 137"
    assert msg.status == "firing" and msg.severity == "critical" and msg.tag == "problem"
    text = msg.text
    assert text.startswith("CRITICAL PROBLEM: shop on host web01\n")
    assert "Since: 2024-05-01 11:58 UTC" in text
    evidence = "  Evidence:\n    reason: OOMKilled\n    exit_code: 137\n    memory_limit: 512M\n"
    assert evidence in text
    assert "What stackmedic did: restarted web" in text
    assert "What stackmedic will do: retry in 30 s, give up after 3 tries" in text
    assert "To silence this deployment: stackmedic silence shop --hours 2" in text
    assert "Dashboard: https://sm.example/" in text


def test_problems_and_resolutions_are_listed_in_sections() -> None:
    msg = rendered(make_event(service="db", title="db exited with code 1"), recovered_event())
    assert msg.title == "shop: db exited with code 1; web is running again"
    assert msg.status == "firing"
    problems, resolved = msg.text.index("PROBLEMS"), msg.text.index("RESOLVED")
    text = msg.text
    assert problems < text.index("* db exited") < resolved < text.index("* web is running")
    assert "Was failing since: 2024-05-01 12:00:03 UTC" in msg.text


def test_only_resolutions_make_a_resolved_message() -> None:
    msg = rendered(recovered_event(), note="stable again after flapping: resolved for 5 min")
    assert msg.subject.startswith("[stackmedic] RESOLVED: shop:")
    assert "Note: stable again after flapping" in msg.text


def test_long_groups_are_summarised_by_count() -> None:
    events = [
        make_event(
            service=f"svc{i}",
            title=f"svc{i} exited with code 1 after a long time of running without any trouble",
        )
        for i in range(8)
    ]
    msg = rendered(*events)
    assert msg.title == "shop: 8 problems (svc0, svc1, svc2, svc3, svc4, svc5, ...)"
    assert all(f"* svc{i} exited" in msg.text for i in range(8))


def test_html_is_escaped() -> None:
    msg = rendered(make_event(title="<script>alert(1)</script>", summary="a & b"))
    assert "<script>" not in msg.html
    assert "&lt;script&gt;" in msg.html and "a &amp; b" in msg.html


def test_agent_problems_have_no_silence_hint() -> None:
    event = make_event(
        kind="agent-problem", deployment=None, service=None, title="Docker is unreachable"
    )
    items = (MessageEvent(event=event, alert_severity="critical", alert_started_at=STARTED),)
    stored = StoredNotification(1, "k", None, "critical", 0.0, 0.0, items)
    msg = render(stored, RenderContext(host="web01"))
    assert msg.title == "Docker is unreachable" and msg.silence_command is None
    assert "stackmedic silence" not in msg.text


def test_a_blip_within_one_window_reads_as_recovered() -> None:
    msg = rendered(make_event(), recovered_event())
    assert msg.status == "resolved" and msg.subject.startswith("[stackmedic] RESOLVED: shop:")
    assert "* web exited with code 137" in msg.text
    assert "* web is running again" in msg.text


def news(kind: str, title: str, **fields: object) -> NotificationEvent:
    values: dict[str, object] = {"service": None, "summary": "", "details": {}, **fields}
    return make_event(kind=kind, title=title, **values)


def test_each_message_says_what_it_is_and_news_is_never_firing() -> None:
    from stackmedic.notify.channels.payloads import alertmanager_webhook, stackmedic_payload

    recovery = rendered(news("recovery-succeeded", "shop recovered by stackmedic",
                             severity="info"))
    assert recovery.subject == "[stackmedic] RECOVERY: shop recovered by stackmedic"
    assert (recovery.tag, recovery.status) == ("recovery", "info")
    body = stackmedic_payload(recovery)
    assert (body["tag"], body["status"], body["events"][0]["tag"]) == ("recovery", "info",
                                                                      "recovery")
    hook = alertmanager_webhook(recovery, receiver="am")
    assert hook["status"] == "resolved"
    assert hook["alerts"][0]["status"] == "resolved"
    assert hook["alerts"][0]["annotations"]["tag"] == "recovery"
    resolved = rendered(recovered_event())
    assert resolved.tag == "resolved"
    assert alertmanager_webhook(resolved, receiver="am")["alerts"][0]["annotations"]["tag"] == (
        "resolved")
    gave_up = rendered(news("recovery-gave-up", "shop recovery gave up, needs a person"))
    assert gave_up.subject.startswith("[stackmedic] CRITICAL RECOVERY: shop recovery gave up")


def test_the_name_is_said_once_in_a_title() -> None:
    msg = rendered(make_event(service=None, title="shop is down: web exited with code 137"),
                   news("recovery-started", "shop recovery started", severity="warning"))
    assert msg.title == "shop is down: web exited with code 137; recovery started"
    assert msg.subject == (
        "[stackmedic] CRITICAL PROBLEM: shop is down: web exited with code 137; recovery started")


def test_a_restart_summary_lists_what_is_still_down_in_the_same_message() -> None:
    summary = news("restart-summary", "recovered after host restart (1 still down)",
                   deployment=None, severity="warning",
                   details={"brought back by stackmedic": "shop (start web, recreate db)\nblog",
                            "still down": "wiki (web exited with code 1)"})
    wiki = make_event(deployment="wiki", service=None, title="wiki is down: web exited")
    msg = rendered(summary, wiki, deployment=None)
    assert msg.tag == "summary" and msg.status == "firing"
    assert msg.subject == (
        "[stackmedic] CRITICAL SUMMARY: recovered after host restart (1 still down)")
    text = msg.text
    assert "    brought back by stackmedic: shop (start web, recreate db)\n" in text
    assert "\n                                blog\n" in text
    assert text.index("PROBLEMS") < text.index("* wiki is down") < text.index("NEWS")


def test_a_blip_within_one_window_says_what_it_was_in_the_title() -> None:
    down = make_event(service=None, title="shop is down: web exited with code 137")
    back = recovered_event(service=None, title="shop is healthy again")
    msg = rendered(down, news("recovery-started", "shop recovery started"), back)
    assert msg.subject == (
        "[stackmedic] RESOLVED: shop was down: web exited with code 137; is healthy again; "
        "recovery started")
