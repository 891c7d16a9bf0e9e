"""The API token: configured, or generated into the data folder on first run."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_token(configured: str | None, token_file: Path) -> str:
    """Return the configured token, else the one in ``token_file``, creating it if absent."""
    if configured:
        return configured
    try:
        existing = token_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    token_file.parent.mkdir(parents=True, exist_ok=True)
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
