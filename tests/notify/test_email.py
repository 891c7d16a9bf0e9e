"""Email end to end against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from notify.conftest import NotifierFactory, make_event, recovered_event
from support.servers import SmtpSink, _MailHandler, free_port
from support.wait import async_wait_until


def mail_channel(port: int, **extra: Any) -> dict[str, Any]:
    """Email channel settings pointing at a loopback SMTP server."""
    return {
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "stackmedic@example.org",
        "to": ["ops@example.org", "dev@example.org"],
        **extra,
    }


async def test_death_then_recovery_sends_one_email_each(
    smtp: SmtpSink, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory({"channels": {"mail": mail_channel(smtp.port)}})

    await notifier.submit(make_event())
    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "sent", 10)
    assert smtp.count() == 1
    mail = smtp.mails[0]
    subject = mail.message["Subject"]
    assert "CRITICAL" in subject and "shop" in subject and "137" in subject
    assert sorted(mail.recipients) == ["dev@example.org", "ops@example.org"]
    text = mail.text()
    for expected in (
        "shop",
        "web exited with code 137",
        "exit_code: 137",
        "reason: OOMKilled",
        "Since: 2024-05-01 12:00:03 UTC",
        "What stackmedic did: restarted web",
        "stackmedic silence shop --hours 2",
    ):
        assert expected in text, expected
    html = mail.html()
    assert "exit_code</i></td><td>137" in html
    assert "<code>stackmedic silence shop --hours 2</code>" in html
    key = notifier.list_notifications()[0]["idempotency_key"]
    assert key in mail.message["Message-ID"]

    await notifier.submit(recovered_event())
    await async_wait_until(lambda: smtp.count() == 2, 10)
    resolved = smtp.mails[1]
    assert resolved.message["Subject"].startswith("[stackmedic] RESOLVED: shop: web is running")
    assert "Was failing since: 2024-05-01 12:00:03 UTC" in resolved.text()
    assert "Resolved at: 2024-05-01 12:01:00 UTC" in resolved.text()
    await async_wait_until(
        lambda: [n["state"] for n in notifier.list_notifications()] == ["sent", "sent"], 10
    )
    assert smtp.count() == 2


async def test_repeat_of_a_still_firing_problem_is_not_mailed_again(
    smtp: SmtpSink, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory({"channels": {"mail": mail_channel(smtp.port)}})
    await notifier.submit(make_event())
    await notifier.submit(make_event(title="web exited with code 137 again"))
    await async_wait_until(lambda: notifier.list_notifications()[0]["state"] == "sent", 10)
    assert len(notifier.list_notifications()) == 1
    assert smtp.count() == 1


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a throwaway self-signed certificate."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_modes_with_login(
    security: str, tmp_path: Path, notifier_factory: NotifierFactory
) -> None:
    context = _self_signed(tmp_path)
    sink = SmtpSink(login=("mailer", "s3cret-pw"))
    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": sink._authenticator(("mailer", "s3cret-pw"))}
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    else:
        kwargs.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(_MailHandler(sink), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        channel = mail_channel(
            port, security=security, verify_tls=False, username="mailer", password="s3cret-pw"
        )
        notifier = await notifier_factory({"channels": {"mail": channel}})
        results = await notifier.send_test("mail")
        assert results[0].ok, results[0].error
        assert sink.count() == 1 and sink.logins == ["mailer"]
        assert "test notification" in sink.mails[0].message["Subject"]
    finally:
        controller.stop()
        # The implicit-TLS controller leaves its own event loop open.
        if not controller.loop.is_closed():
            controller.loop.close()
