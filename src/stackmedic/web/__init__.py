"""The web dashboard: server-rendered pages served by the agent under ``/``."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackmedic.web.dashboard import Dashboard, install_dashboard

# Loaded on first access, so that importing one light module of this package (a
# config model, say) does not load the heavy ones and their libraries.
_LAZY = {
    "Dashboard": "stackmedic.web.dashboard",
    "install_dashboard": "stackmedic.web.dashboard",
}

__all__ = [
    "Dashboard",
    "install_dashboard",
]


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module the first time it is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
