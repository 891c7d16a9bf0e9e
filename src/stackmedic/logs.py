"""structlog setup: console lines for people, JSON lines for log collectors."""

from __future__ import annotations

import importlib.abc
import logging
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# structlog imports these whenever they are installed (typer brings rich): rich and pygments
# (about 3 MB resident) for pretty tracebacks, greenlet for a deprecated context store. The
# agent renders exceptions as plain text (format_exc_info) and runs no greenlets.
STRUCTLOG_EXTRAS = frozenset({"rich", "pygments", "greenlet", "better_exceptions"})


class _Unavailable(importlib.abc.MetaPathFinder):
    """Makes the import of the given top-level packages fail, as if they were not installed."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        """Refuse the hidden packages; leave every other import to the next finder."""
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def lean_structlog() -> None:
    """Load structlog without its optional extras (a no-op once it is loaded); they stay
    importable afterwards for whatever else wants them."""
    if "structlog" in sys.modules:
        return
    hide = _Unavailable(STRUCTLOG_EXTRAS)
    sys.meta_path.insert(0, hide)
    try:
        import structlog  # noqa: F401
    finally:
        sys.meta_path.remove(hide)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and stdlib logging to stderr at ``level``."""
    lean_structlog()
    import structlog

    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s", force=True)
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
