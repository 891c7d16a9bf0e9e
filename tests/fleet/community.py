"""The community dashboards and alert rules people use with cAdvisor, read as Grafana and
Prometheus read them: every panel query and rule expression, ready to run.

The files live in ``../shared/community`` beside the repository (each folder with its
SOURCE.txt), byte for byte as published; nothing of them is copied here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COMMUNITY = Path(__file__).resolve().parents[2].parent / "shared" / "community"
DASHBOARDS = (
    "dockprom/docker_containers.json",
    "grafana-193/docker-monitoring_rev1.json",
    "grafana-893/docker-and-system-monitoring-893.json",
)
RULE_FILES = ("dockprom/alert.rules", "awesome-prometheus-alerts/google-cadvisor.yml")
# Grafana's own interval variables as a 1 s-scrape Prometheus wants them.
INTERVALS = {"$__auto_interval": "1m", "$__rate_interval": "1m", "$__interval": "15s"}
# A rule written for one named container of its author's stack: the name is put in.
RULE_CONTAINER = 'name="jenkins"'

# Why a query cannot return data from stackmedic, by what it needs.
NODE_EXPORTER = re.compile(r"\bnode_\w+")
KUBELET = re.compile(r"\b(container|pod|namespace)\s*(!=|=~|!~|=)|by \([^)]*\b(pod|namespace)\b")
NEEDS_NODE_EXPORTER = "needs node-exporter's host series (node_*), which stackmedic does not export"
NEEDS_KUBELET = ("needs the container/pod/namespace labels only the kubelet's embedded cAdvisor"
                 " adds; a Docker host has none")
_COMPARISON = re.compile(r"(?<![=!<>~])(>=|<=|==|!=|>|<)(?![=~])")


@dataclass(frozen=True)
class CommunityQuery:
    """One panel query or rule expression of one community file."""

    source: str
    title: str
    expr: str
    rule: bool

    @property
    def id(self) -> str:
        """A readable test id."""
        return f"{self.source}: {self.title}"

    @property
    def exception(self) -> str | None:
        """Why this query cannot return data on a Docker host with stackmedic; None: it must."""
        if NODE_EXPORTER.search(self.expr):
            return NEEDS_NODE_EXPORTER
        if KUBELET.search(_without_strings(self.expr)):
            return NEEDS_KUBELET
        return None

    def selectors(self, container: str) -> list[str]:
        """The cAdvisor series selectors in it (a rule's container name put in)."""
        return selectors(self.expr.replace(RULE_CONTAINER, f'name="{container}"'))

    def runnable(self, container: str) -> str:
        """The PromQL to run: Grafana's variables filled in; a rule's comparisons made
        ``bool`` (so the expression yields its series whether or not it would fire) and
        the inner vector of ``absent(...)`` (which yields nothing when data is there)."""
        expr = self.expr
        for variable, value in INTERVALS.items():
            expr = expr.replace(variable, value)
        expr = expr.replace("$interval", INTERVALS["$__auto_interval"])
        if not self.rule:
            return expr
        expr = expr.replace(RULE_CONTAINER, f'name="{container}"')
        absent = re.fullmatch(r"\s*absent\((.*)\)\s*", expr, re.S)
        if absent:
            return absent[1]
        return _bool_comparisons(expr)


_SELECTOR = re.compile(r"\b((?:container|machine)_\w+)(\{[^}]*\})?")


def selectors(expr: str) -> list[str]:
    """The cAdvisor series selectors of an expression (without ranges or functions)."""
    return [name + (matchers or "") for name, matchers in _SELECTOR.findall(expr)
            if not KUBELET.search(_without_strings(matchers or ""))]


def _without_strings(expr: str) -> str:
    return re.sub(r'"[^"]*"', '""', expr)


def _bool_comparisons(expr: str) -> str:
    """Add ``bool`` to every top-level comparison (the alert threshold, not a filter
    inside an aggregation or a label matcher)."""
    out, depth, i = [], 0, 0
    while i < len(expr):
        char = expr[i]
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == '"':
            end = expr.index('"', i + 1)
            out.append(expr[i:end + 1])
            i = end + 1
            continue
        if depth == 0:
            match = _COMPARISON.match(expr, i)
            if match:
                out.append(f"{match[0]} bool")
                i = match.end()
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [*dashboard.get("panels", []), *(p for r in dashboard.get("rows", [])
                                             for p in r.get("panels", []))]
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        yield panel


def dashboard_queries() -> list[CommunityQuery]:
    """Every target of every panel (hidden ones too) of every community dashboard."""
    found = []
    for name in DASHBOARDS:
        dashboard = json.loads((COMMUNITY / name).read_text())
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    title = f"{panel.get('title', '')} [{target.get('refId', '')}]"
                    found.append(CommunityQuery(name, title, target["expr"], rule=False))
    return found


def rule_queries() -> list[CommunityQuery]:
    """Every alert rule expression of every community rule file."""
    found = []
    for name in RULE_FILES:
        for group in yaml.safe_load((COMMUNITY / name).read_text())["groups"]:
            for rule in group["rules"]:
                found.append(CommunityQuery(name, rule["alert"], str(rule["expr"]), rule=True))
    return found
