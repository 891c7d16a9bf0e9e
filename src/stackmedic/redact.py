"""Masking of secrets, everywhere they could be shown or sent: one mask, one rule.

Every secret becomes ``MASK`` (``****``), in three places:

- Settings shown to people (``mask_settings``): every ``SecretStr`` and every field the
  caller names as secret; URLs keep their user but not their password or query values
  (``mask_url``).
- Known secrets in text (``Redactor``, ``mask_known``): exact strings handed in by the caller
  (channel passwords and tokens, container env values, the LLM key). Strings shorter than
  ``MIN_SECRET_LENGTH`` are not masked as substrings: they are too common to hide without
  garbling the text.
- Patterns in diagnosis evidence (``redact_text``, ``redact_evidence``), after the known
  secrets: PEM private-key blocks; JSON web tokens; the password of a URL's userinfo (the
  whole userinfo when it has no password part); ``Authorization:`` header values and
  ``Bearer`` tokens; the value in ``KEY=VALUE`` / ``KEY: VALUE`` where the key names a
  secret (see ``looks_secret_key``); and runs of 32 or more characters that look like key
  material (hex, or base64 mixing upper case, lower case and digits). Content digests
  written as ``sha256:<hex>`` are public and kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "****"
MIN_SECRET_LENGTH = 4


def secret_values(settings: BaseModel) -> list[str]:
    """Return every secret string held by a settings model (nested dicts and lists too)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        """Collect secrets from one value."""
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(settings)
    return [s for s in found if s]


def mask_settings(settings: BaseModel, secret_fields: Iterable[str] = ()) -> dict[str, Any]:
    """Return settings as plain data with every secret replaced by ``****``."""
    forced = set(secret_fields)

    def plain(value: Any, secret: bool) -> Any:
        """Turn one value into plain data, masked when secret."""
        if value is None:
            return None
        if isinstance(value, SecretStr) or secret:
            if isinstance(value, dict):
                return {k: MASK for k in value}
            return MASK
        if isinstance(value, dict):
            return {k: plain(v, False) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v, False) for v in value]
        if isinstance(value, BaseModel):
            return mask_settings(value)
        return value

    return {
        name: plain(getattr(settings, name), name in forced) for name in type(settings).model_fields
    }


def mask_url(url: str) -> str:
    """Hide the password of a URL and the values of its query string."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = urlencode([(k, MASK) for k, _ in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


# A name is secret when one of its words (split at punctuation and camelCase) is in
# _SECRET_WORDS, or when it contains one of _SECRET_PARTS anywhere ("PGPASSWORD").
_SECRET_WORDS = frozenset({"key", "keys", "pass", "pw", "pwd", "auth"})
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
)
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ENV_KEYS = frozenset({"env", "environment"})

_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*)(?P<password>:[^/\s@]*)?@"
)
_AUTH_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?P<scheme>basic|bearer|digest|token|negotiate)\s+)?(?P<value>[^\s\"',;]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.-])[\"']?(?P<key>[A-Za-z0-9_.-]{1,128})[\"']?"
    r"(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\*{4}|\"[^\"]*\"|'[^']*'|[^\s,;&\"'}\]]+)"
)
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGEST_PREFIX = re.compile(r"\bsha(?:1|224|256|384|512):$", re.IGNORECASE)


def looks_secret_key(name: str) -> bool:
    """Whether a setting or variable name suggests its value is a secret."""
    lowered = name.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _NAME_WORDS.findall(name))


def _url_userinfo(match: re.Match[str]) -> str:
    if match.group("password") is None:
        return f"{match.group('scheme')}{MASK}@"
    return f"{match.group('scheme')}{match.group('user')}:{MASK}@"


def _auth_header(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{match.group('name')}{scheme + ' ' if scheme else ''}{MASK}"


def _key_values(text: str) -> str:
    # A match whose key is not secret only skips past its separator, so that a secret
    # pair inside its value ("error: password=x") is still found.
    parts: list[str] = []
    pos = 0
    while (match := _KEY_VALUE.search(text, pos)) is not None:
        value = match.group("value")
        if not looks_secret_key(match.group("key")) or value.strip("\"'") == MASK:
            parts.append(text[pos : match.end("sep")])
            pos = match.end("sep")
            continue
        quote = value[0] if value[:1] in ('"', "'") else ""
        parts.append(f"{text[pos : match.start('value')]}{quote}{MASK}{quote}")
        pos = match.end()
    parts.append(text[pos:])
    return "".join(parts)


def _long_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if _HEX.fullmatch(run):
        before = match.string[max(0, match.start() - 8) : match.start()]
        return run if _DIGEST_PREFIX.search(before) else MASK
    core = run.rstrip("=")
    mixed = (
        any(c.isupper() for c in core)
        and any(c.islower() for c in core)
        and any(c.isdigit() for c in core)
    )
    return MASK if mixed else run


def _known(secrets: Iterable[str]) -> list[str]:
    # Longest first, so a secret that contains another is masked whole.
    return sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _mask(text: str, known: list[str]) -> str:
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact(text: str, known: list[str]) -> str:
    text = _mask(text, known)
    text = _PEM.sub(MASK, text)
    text = _JWT.sub(MASK, text)
    text = _URL_USERINFO.sub(_url_userinfo, text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    text = _BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
    text = _key_values(text)
    return _LONG_RUN.sub(_long_run, text)


def mask_known(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with only the given secret strings replaced by ``****``."""
    return _mask(text, _known(secrets))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secrets and secret-looking patterns replaced by ``****``."""
    return _redact(text, _known(secrets))


def redact_evidence(evidence: Mapping[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """Return a redacted copy of ``evidence`` (nested dicts and lists), safe to send away.

    Strings go through ``redact_text``. Scalars (and lists of scalars) under a key that
    names a secret are replaced whole; a nested mapping there is judged key by key, so a
    service called ``auth`` keeps its evidence. Under ``env`` / ``environment`` only the
    variable names are kept. Values that are not JSON types become their redacted ``str()``.
    """
    known = _known(secrets)

    def scalar(value: Any, hide: bool) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if hide:
            return MASK
        if isinstance(value, int | float):
            return value
        return _redact(value if isinstance(value, str) else str(value), known)

    def env(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {_redact(str(name), known): scalar(item, True) for name, item in value.items()}
        if isinstance(value, list | tuple):
            return [env(entry) for entry in value]
        if isinstance(value, str):
            name, sep, _ = value.partition("=")
            return f"{_redact(name, known)}{sep}{MASK if sep else ''}"
        return scalar(value, True)

    def walk(value: Any, hide: bool) -> Any:
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = str(key)
                if name.lower() in _ENV_KEYS:
                    out[_redact(name, known)] = env(item)
                else:
                    out[_redact(name, known)] = walk(item, looks_secret_key(name))
            return out
        if isinstance(value, set | frozenset):
            return [walk(item, hide) for item in sorted(value, key=repr)]
        if isinstance(value, list | tuple):
            return [walk(item, hide) for item in value]
        return scalar(value, hide)

    result: dict[str, Any] = walk(evidence, hide=False)
    return result


class Redactor:
    """Replaces known secret strings in text with ``****``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known = _known(secrets)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every known secret masked."""
        return _mask(text, self._known)


__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "looks_secret_key",
    "mask_known",
    "mask_settings",
    "mask_url",
    "redact_evidence",
    "redact_text",
    "secret_values",
]
