"""A log line's level, read from the common formats (JSON, logfmt, a word in front)."""

from __future__ import annotations

import json
import re
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Log levels, ordered; config names them in lower case (``error``)."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    FATAL = 50

    @classmethod
    def _missing_(cls, value: object) -> Level | None:
        if isinstance(value, str):
            return WORDS.get(value.strip().lower())
        return None

    def __str__(self) -> str:
        return self.name.lower()


WORDS: dict[str, Level] = {
    "trace": Level.DEBUG, "debug": Level.DEBUG, "dbug": Level.DEBUG, "dbg": Level.DEBUG,
    "info": Level.INFO, "information": Level.INFO, "notice": Level.INFO, "inf": Level.INFO,
    "warn": Level.WARNING, "warning": Level.WARNING, "wrn": Level.WARNING,
    "error": Level.ERROR, "err": Level.ERROR, "eror": Level.ERROR,
    "fatal": Level.FATAL, "critical": Level.FATAL, "crit": Level.FATAL, "panic": Level.FATAL,
    "emerg": Level.FATAL, "emergency": Level.FATAL, "alert": Level.FATAL, "ftl": Level.FATAL,
}
# logfmt `level=error` / `lvl=warn` / `severity=ERROR`, quoted or not.
_LOGFMT = re.compile(r'(?:^|\s)(?:level|lvl|severity)="?([A-Za-z]+)"?(?=\s|$)')
# A level word near the start: `ERROR ...`, `[WARN] ...`, `2026-12-07 10:00:00 ERROR ...`,
# `E1207 ...` is not read (too easily a false match).
_PREFIX = re.compile(
    r"^(?:\S+\s+){0,3}?[\[(<]?(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|"
    r"CRIT|PANIC|EMERG|ALERT)[\])>:]?(?=\s|$)",
    re.IGNORECASE,
)


def parse_level(line: str) -> Level | None:
    """The line's level, or None when it does not say."""
    stripped = line.lstrip()
    if stripped.startswith("{"):
        return _json_level(stripped)
    found = _LOGFMT.search(line)
    if found is not None:
        return WORDS.get(found.group(1).lower())
    found = _PREFIX.match(stripped)
    if found is not None:
        return WORDS.get(found.group(1).lower())
    return None


def _json_level(text: str) -> Level | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("level", "severity", "lvl", "log.level", "levelname"):
        value = data.get(key)
        if isinstance(value, str):
            return WORDS.get(value.strip().lower())
        if isinstance(value, int) and not isinstance(value, bool):
            return _numeric(value)
    return None


def _numeric(value: int) -> Level | None:
    """Numeric levels as pino/bunyan write them (30 info, 40 warn, 50 error, 60 fatal)."""
    if value >= 60:
        return Level.FATAL
    if value >= 50:
        return Level.ERROR
    if value >= 40:
        return Level.WARNING
    if value >= 20:
        return Level.INFO
    return Level.DEBUG
