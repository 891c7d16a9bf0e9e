"""API tokens: configured, or generated into the data folder on first run; their scopes."""

from __future__ import annotations

import enum
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request


def _log() -> Any:
    """This module's logger; structlog (and the rich it loads) only when a warning is due."""
    import structlog

    return structlog.get_logger(__name__)


class Scope(enum.Enum):
    """What a token may do."""

    OPERATOR = "operator"
    """Everything: reading, actions, silences, tests."""
    READ = "read"
    """Reading only: ``GET`` on the API and viewing the dashboard."""


@dataclass(frozen=True)
class Tokens:
    """The operator token and the read-only token of one agent."""

    operator: str
    read: str

    def scope_of_token(self, presented: str) -> Scope | None:
        """The scope a presented token grants, or None when it is neither token."""
        given = presented.strip().encode()
        # Compare with both, always, so the time taken says nothing about which matched.
        is_operator = hmac.compare_digest(given, self.operator.encode())
        is_read = hmac.compare_digest(given, self.read.encode())
        if is_operator:
            return Scope.OPERATOR
        return Scope.READ if is_read else None

    def scope_of(self, authorization: str) -> Scope | None:
        """The scope an ``Authorization: Bearer ...`` header grants, or None."""
        kind, _, value = authorization.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            return None
        return self.scope_of_token(value)


def tokens_of(request: Request) -> Tokens:
    """The tokens of the agent serving this request (the API's and the dashboard's)."""
    found: Tokens = request.app.state.tokens
    return found



def load_or_create_token(configured: str | None, token_file: Path) -> str:
    """Return the configured token, else the one in ``token_file``, creating it if absent."""
    if configured:
        return configured
    try:
        existing = token_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        warn_if_writable_by_others(token_file)
        return existing
    make_private_dir(token_file.parent, narrow=False)
    token = secrets.token_urlsafe(32)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def read_token(token_file: Path) -> str | None:
    """The token stored in ``token_file``, if any (for the CLI)."""
    try:
        return token_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def make_private_dir(folder: Path, *, narrow: bool = True) -> None:
    """Create ``folder`` for its owner only (0700); with ``narrow``, also an existing one."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if narrow and folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    except OSError as exc:  # not ours to change (a mounted folder): say so, go on
        _log().warning("cannot make the data folder private", folder=str(folder), error=str(exc))


def writable_by_others(path: Path) -> bool:
    """Whether a user other than the owner (group or anyone) may write ``path``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH))


def warn_if_writable_by_others(path: Path) -> bool:
    """Log a warning when ``path`` can be changed by another user; return whether it was."""
    if writable_by_others(path):
        _log().warning(
            "file is writable by other users; anyone who can change it can take over the agent",
            file=str(path), fix=f"chmod go-w {path}",
        )
        return True
    return False
