"""No configured secret appears in logs, API answers or notification bodies."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from notify.conftest import NotifierFactory, make_event
from stackmedic.notify import NotifyConfigError, load_notify_config
from support.servers import HttpReceiver, SmtpSink, free_port
from support.wait import async_wait_until

SMTP_PASSWORD = "smtp-pw-Zq81xx"
WEBHOOK_SECRET = "whsec-Hk27yy"
HEADER_TOKEN = "hdr-token-Pp93zz"
APPRISE_PASSWORD = "apprise-pw-Lm55ww"
AM_TOKEN = "am-token-Rt44vv"
DOWN_SECRET = "down-secret-Qw66uu"
SECRETS = (SMTP_PASSWORD, WEBHOOK_SECRET, HEADER_TOKEN, APPRISE_PASSWORD, AM_TOKEN, DOWN_SECRET)


def assert_clean(where: str, text: str) -> None:
    """Fail when any secret occurs in ``text``."""
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


async def test_secrets_stay_out_of_logs_answers_and_bodies(
    receiver: HttpReceiver,
    notifier_factory: NotifierFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = SmtpSink(login=("mailer", SMTP_PASSWORD)).start()
    closed = free_port()
    channels = {
        "mail": {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "username": "mailer",
            "password": SMTP_PASSWORD,
            "from_address": "stackmedic@example.org",
            "to": ["ops@example.org"],
        },
        "hook": {
            "type": "webhook",
            "url": receiver.url + "/hook",
            "secret": WEBHOOK_SECRET,
            "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"},
        },
        "chat": {
            "type": "apprise",
            "url": f"json://bot:{APPRISE_PASSWORD}@127.0.0.1:{receiver.port}/chat",
        },
        "am": {
            "type": "alertmanager",
            "url": f"http://127.0.0.1:{closed}",
            "bearer_token": AM_TOKEN,
            "timeout_seconds": 2,
        },
        "down": {"type": "webhook", "url": f"http://127.0.0.1:{closed}/x", "secret": DOWN_SECRET},
    }
    caplog.set_level(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as logs:
            notifier = await notifier_factory({"channels": channels})
            await notifier.submit(make_event())
            await async_wait_until(lambda: smtp.count() == 1 and len(receiver.accepted()) == 2, 15)
            await async_wait_until(
                lambda: all(
                    d["last_error"]
                    for d in notifier.list_notifications()[0]["deliveries"]
                    if d["channel"] in ("am", "down")
                ),
                15,
            )
            tests = await notifier.send_test()
            await notifier.close()
        assert smtp.logins == ["mailer", "mailer"]
        hook = next(r for r in receiver.accepted() if r.path == "/hook")
        assert hook.headers["Authorization"] == f"Bearer {HEADER_TOKEN}"

        assert_clean("structlog output", repr(logs))
        # Everything logged in this process except the test SMTP server's own log.
        ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
        assert {r.name.split(".")[0] for r in ours} >= {"httpx", "apprise"}
        assert_clean("stdlib logging", "\n".join(f"{r.name} {r.getMessage()}" for r in ours))
        assert_clean("describe_channels()", json.dumps(notifier.describe_channels()))
        assert_clean("list_notifications()", json.dumps(notifier.list_notifications()))
        assert_clean("outbox_state()", json.dumps(notifier.outbox_state()))
        assert_clean("send_test()", repr(tests))
        assert_clean("email", smtp.mails[0].raw.decode())
        for request in receiver.received():
            assert_clean(f"body sent to {request.path}", request.body.decode())
        described = {c["name"]: c for c in notifier.describe_channels()}
        assert described["mail"]["settings"]["password"] == "****"
        assert described["hook"]["settings"]["headers"] == {"Authorization": "****"}
        assert described["chat"]["settings"]["url"].startswith("json://bot:****@127.0.0.1")
        assert described["am"]["settings"]["bearer_token"] == "****"
        assert "password" in described["mail"]["secret_fields"]
    finally:
        smtp.stop()


def test_config_errors_do_not_echo_secrets() -> None:
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(
            {
                "channels": {
                    "mail": {
                        "type": "email",
                        "host": "h",
                        "port": "not-a-port",
                        "to": ["a@b.c"],
                        "from_address": "x@y.z",
                        "username": "u",
                        "password": SMTP_PASSWORD,
                    }
                }
            }
        )
    assert "notifications.channels.mail.port" in str(caught.value)
    assert_clean("config error", str(caught.value))
