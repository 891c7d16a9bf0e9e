"""Secrets never leave the host: redaction of text and evidence."""

from __future__ import annotations

from typing import Any

import pytest

from stackmedic.redact import (
    MASK,
    looks_secret_key,
    mask_known,
    redact_evidence,
    redact_text,
)

R = MASK
HEX64 = "3f7a" * 16
B64 = "aGVsbG8gV29ybGQhIHRoaXMgaXMgYSBzZWNyZXQ1Mg=="


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # KEY=VALUE / KEY: VALUE with a secret-looking key
        ("DB_PASSWORD=hunter22 next", f"DB_PASSWORD={R} next"),
        ("PGPASSWORD=abc", f"PGPASSWORD={R}"),
        ("export API_KEY='a b c'", f"export API_KEY='{R}'"),
        ('{"password": "hunter22", "user": "bob"}', f'{{"password": "{R}", "user": "bob"}}'),
        ("apiKey: abc123", f"apiKey: {R}"),
        ("X-Auth-Token: abcdef", f"X-Auth-Token: {R}"),
        ("client_secret=s&grant=x", f"client_secret={R}&grant=x"),
        ("AWS_CREDENTIALS=foo;x=1", f"AWS_CREDENTIALS={R};x=1"),
        ("error: password=abc retry", f"error: password={R} retry"),
        # authorization headers and bearer tokens
        ("Authorization: Bearer abc.def.ghi", f"Authorization: Bearer {R}"),
        ('"authorization": "Basic dXNlcjpwYXNz"', f'"authorization": "Basic {R}"'),
        ("Proxy-Authorization: xyz", f"Proxy-Authorization: {R}"),
        ("sent bearer abcdefgh1234", f"sent bearer {R}"),
        # userinfo in URLs
        ("postgres://app:s3cr3t@db:5432/x", f"postgres://app:{R}@db:5432/x"),
        ("https://ghp_abc@github.com/x.git", f"https://{R}@github.com/x.git"),
        # key material
        (f"id {HEX64} gone", f"id {R} gone"),
        (f"blob {B64}", f"blob {R}"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1rwW1gFWFOEjXk",
            R,
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY----- tail",
            f"{R} tail",
        ),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "keycloak: started",  # keys that only look alike
        "monkey=3 keyboard=us",
        "at 12:30:45 restarting",
        "the bearer of bad news",
        "see http://example.com/a?b=c@d",
        f"image sha256:{HEX64}",  # content digests are public
        "a_very_long_identifier_name_without_any_digits",
        "/var/lib/docker/volumes/shop_data/_data/uploads",
        "nothing secret here",
    ],
)
def test_harmless_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_known_secrets_are_masked_longest_first() -> None:
    text = "pw is topsecret and also topsecret-extended, short: abc"
    assert redact_text(text, ["topsecret", "topsecret-extended", "abc"]) == (
        f"pw is {R} and also {R}, short: abc"
    )


def test_redaction_is_idempotent() -> None:
    text = "DB_PASSWORD=x Authorization: Bearer abcdefgh123 postgres://u:p@h/"
    once = redact_text(text, ["x-y-z"])
    assert redact_text(once) == once


def test_mask_known_touches_only_the_given_strings() -> None:
    assert mask_known("token=abc secret-value", ["secret-value"]) == f"token=abc {R}"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("GITHUB_TOKEN", True),
        ("SECRET_KEY_BASE", True),
        ("REDIS_AUTH", True),
        ("DB_PASS", True),
        ("ssh_keys", True),
        ("keycloak", False),
        ("monkey", False),
        ("restart_count", False),
        ("has_build", False),
        ("passenger", False),
        ("author", False),
    ],
)
def test_secret_key_names(name: str, secret: bool) -> None:
    assert looks_secret_key(name) is secret


def test_evidence_is_redacted_deeply_without_touching_the_input() -> None:
    evidence: dict[str, Any] = {
        "deployment": "shop",
        "services": {
            "auth": {
                "status": "exited",
                "exit_code": 1,
                "oom_killed": False,
                "env": ["DB_PASSWORD=hunter22", "MODE=production", "PASSTHROUGH"],
                "log_tail": ["boot", "using token abcd-plain-secret"],
            },
            "web": {"environment": {"SMTP_PASS": "x", "PORT": 8080}, "api_token": 12345},
        },
        "tokens": ["one", "two"],
        "memory_trend": [(1.5, 1024), (2.5, 2048)],
        "labels": {"com.example.key": "value", "tier": "front"},
        "ids": {"b", "a"},
    }
    redacted = redact_evidence(evidence, ["abcd-plain-secret"])

    assert redacted == {
        "deployment": "shop",
        "services": {
            "auth": {
                "status": "exited",
                "exit_code": 1,
                "oom_killed": False,
                "env": [f"DB_PASSWORD={R}", f"MODE={R}", "PASSTHROUGH"],
                "log_tail": ["boot", f"using token {R}"],
            },
            "web": {"environment": {"SMTP_PASS": R, "PORT": R}, "api_token": R},
        },
        "tokens": [R, R],
        "memory_trend": [[1.5, 1024], [2.5, 2048]],
        "labels": {"com.example.key": R, "tier": "front"},
        "ids": ["a", "b"],
    }
    assert evidence["services"]["auth"]["env"][0] == "DB_PASSWORD=hunter22"


def test_evidence_keys_and_odd_values_are_redacted_too() -> None:
    class Odd:
        def __str__(self) -> str:
            return "postgres://u:zz-odd@h/"

    redacted = redact_evidence({"by-url postgres://u:zz-name@h/": Odd(), "n": None})
    assert redacted == {f"by-url postgres://u:{R}@h/": f"postgres://u:{R}@h/", "n": None}
