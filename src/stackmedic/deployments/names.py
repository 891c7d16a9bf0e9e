"""Deployment names: what a folder or project may be called, with no way out of its folder."""

from __future__ import annotations

import re

MAX_LENGTH = 64
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class InvalidName(ValueError):
    """A deployment name that cannot name a deployment."""


def validate_name(name: str) -> str:
    """Return ``name`` if it can name a deployment, else raise ``InvalidName`` saying why."""
    if not name:
        raise InvalidName("deployment name is empty")
    if len(name) > MAX_LENGTH:
        raise InvalidName(f"deployment name is longer than {MAX_LENGTH} characters")
    if ".." in name or "/" in name or "\\" in name:
        raise InvalidName("deployment name must not contain '..', '/' or '\\'")
    if not NAME_PATTERN.match(name):
        raise InvalidName(
            "deployment name must start with a letter or digit and hold only letters, "
            "digits, '_', '.' and '-'"
        )
    return name


def project_name_for(folder: str) -> str:
    """The project name Compose derives from a folder name."""
    lowered = re.sub(r"[^a-z0-9_-]", "", folder.lower())
    return lowered.lstrip("_-") or "default"
