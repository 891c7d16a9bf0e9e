"""Warn when the config file can be changed by other users (it names the token and hooks)."""

from __future__ import annotations

import os
from pathlib import Path

from stackmedic.auth import warn_if_writable_by_others


def config_path(config: Path | None) -> Path | None:
    """The config file in use: ``--config``, else ``$STACKMEDIC_CONFIG``, else none."""
    if config is not None:
        return config
    named = os.environ.get("STACKMEDIC_CONFIG")
    return Path(named) if named else None


def warn_about_permissions(config: Path | None) -> bool:
    """Log a warning when the config file is writable by group or others; return whether."""
    path = config_path(config)
    return path is not None and warn_if_writable_by_others(path)
