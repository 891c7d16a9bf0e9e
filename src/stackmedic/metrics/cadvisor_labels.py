"""Which Docker labels become ``container_label_*`` labels, and under which names."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping

_INVALID = re.compile(r"[^a-zA-Z0-9_]")
PREFIX = "container_label_"


def label_name(docker_label: str) -> str:
    """The Prometheus label a Docker label is copied to (cAdvisor's sanitising)."""
    return PREFIX + _INVALID.sub("_", docker_label)


class LabelAllowList:
    """The Docker labels copied onto the container series, by shell-style pattern."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._decided: dict[str, bool] = {}

    def allowed(self, docker_label: str) -> bool:
        """Whether this Docker label is copied."""
        known = self._decided.get(docker_label)
        if known is None:
            known = any(fnmatch.fnmatchcase(docker_label, p) for p in self.patterns)
            if len(self._decided) < 10_000:  # label keys are few; bound it all the same
                self._decided[docker_label] = known
        return known

    def columns(self, every: Iterable[Mapping[str, str]]) -> list[str]:
        """The allowed Docker labels any of these containers has, sorted by label name."""
        found = {k for labels in every for k in labels if self.allowed(k)}
        by_name: dict[str, str] = {}
        for key in sorted(found):  # two keys with one sanitised name: the first is kept
            by_name.setdefault(label_name(key), key)
        return [by_name[name] for name in sorted(by_name)]
