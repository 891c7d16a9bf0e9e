"""One rule for secrets: the same mask and minimum length in settings, errors and evidence."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from stackmedic.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    mask_settings,
    mask_url,
    redact_evidence,
    redact_text,
)


class Settings(BaseModel):
    """A channel's settings with one secret."""

    user: str
    password: SecretStr


def test_settings_urls_errors_and_evidence_show_the_same_mask() -> None:
    secret = "hunter22-long"
    shown = mask_settings(Settings(user="bob", password=SecretStr(secret)))
    url = mask_url(f"https://bob:{secret}@hook.example/in")
    error = Redactor([secret])(f"login failed with {secret}")
    evidence = redact_evidence({"note": f"connect with {secret}"}, [secret])
    text = redact_text(f"https://bob:{secret}@db/x")

    assert shown == {"user": "bob", "password": MASK}
    assert url == f"https://bob:{MASK}@hook.example/in"
    assert error == f"login failed with {MASK}"
    assert evidence == {"note": f"connect with {MASK}"}
    assert text == f"https://bob:{MASK}@db/x"
    assert secret not in repr((shown, url, error, evidence, text))


def test_delivery_errors_and_evidence_share_the_minimum_secret_length() -> None:
    short = "q" * (MIN_SECRET_LENGTH - 1)
    enough = "z" * MIN_SECRET_LENGTH
    line = f"values {short} and {enough}"
    expected = f"values {short} and {MASK}"

    assert Redactor([short, enough])(line) == expected
    assert redact_text(line, [short, enough]) == expected
