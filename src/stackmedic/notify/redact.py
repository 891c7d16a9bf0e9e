"""Masking of secrets: in settings shown to people, and in error text before it is kept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "****"


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


class Redactor:
    """Replaces known secret strings in text with ``****``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every known secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
