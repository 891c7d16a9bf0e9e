"""Reading the shipped Grafana dashboard: its variables, panels and PromQL, as Grafana would."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARD = (Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
             / "stackmedic-fleet.json")
# Grafana's own variables; every other $name must be one of the dashboard's.
BUILTINS = {"__rate_interval": "10s", "__interval": "5s", "__range": "5m"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")
# Escaped as Grafana escapes values for a Prometheus regex inside a PromQL string.
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|\\]")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


@dataclass(frozen=True)
class PanelQuery:
    """One query of one panel; ``repeat`` names the variable its row repeats over."""

    panel: str
    ref: str
    expr: str
    instant: bool
    repeat: str | None

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.panel}/{self.ref}"


def load() -> dict[str, Any]:
    """The dashboard JSON."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's template variables, in order."""
    found: list[dict[str, Any]] = dashboard["templating"]["list"]
    return found


def panel_queries(dashboard: dict[str, Any]) -> Iterator[PanelQuery]:
    """Every target of every panel, with the repeat of the row it sits in."""
    repeat: str | None = None
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            repeat = panel.get("repeat")
            continue
        for target in panel.get("targets", []):
            yield PanelQuery(panel["title"], target["refId"], target["expr"],
                             bool(target.get("instant")), repeat)


def substitute(text: str, values: dict[str, list[str]]) -> str:
    """Replace $var / ${var} as Grafana does for a regex matcher (several values: (a|b))."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name not in values:
            raise KeyError(f"variable ${name} is not defined by the dashboard")
        chosen = values[name]
        if len(chosen) == 1:
            return chosen[0]
        return "(" + "|".join(_REGEX_SPECIAL.sub(r"\\\\\g<0>", c) for c in chosen) + ")"

    return _VARIABLE.sub(one, text)


def label_values_query(definition: str) -> tuple[str, str]:
    """``label_values(SELECTOR, LABEL)`` as the PromQL ``count by (LABEL) (SELECTOR)``."""
    match = _LABEL_VALUES.match(definition.strip())
    if match is None:
        raise ValueError(f"not a label_values() query: {definition!r}")
    label = match["label"]
    return f"count by ({label}) ({match['selector']})", label


def resolve_variables(
    dashboard: dict[str, Any], query: Callable[[str], list[dict[str, Any]]]
) -> dict[str, list[str]]:
    """Every variable's values from Prometheus, each query using the variables before it."""
    values: dict[str, list[str]] = {}
    for variable in variables(dashboard):
        if variable["type"] == "datasource":
            continue
        promql, label = label_values_query(variable["query"]["query"])
        found = sorted({s["metric"][label] for s in query(substitute(promql, values))})
        if not found:
            raise AssertionError(f"variable ${variable['name']} has no values: {promql}")
        values[variable["name"]] = found if variable.get("includeAll") else found[:1]
    return values
