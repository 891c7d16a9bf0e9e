"""What a running agent shows a person: desired states, verdicts, recovery, problems, mails.

Shared by the real-Docker property tests, which read the agent the way a user would
(its API and the mails it sends) after every step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from support.agent import AgentProcess
from support.servers import SmtpSink

# The restart summary's lines that place a deployment (the other lines add detail).
SUMMARY_BUCKETS = (
    "came back by itself", "brought back by stackmedic", "still down", "jobs completed",
    "left stopped on purpose", "not accounted for (a bug in stackmedic, please report)",
)
# Verdicts that are no problem: an open problem beside one of them should have ended.
NOT_ILL = frozenset({"healthy", "stopped", "paused"})
ILL = frozenset({"down", "degraded", "invalid"})


def email_channel(sink: SmtpSink) -> dict[str, Any]:
    """The ``notifications`` config sending every notice to ``sink`` quickly."""
    return {
        "group_window_seconds": 1, "retry_initial_seconds": 0.2,
        "channels": {"ops": {
            "type": "email", "host": "127.0.0.1", "port": sink.port, "security": "none",
            "from_address": "stackmedic@test.invalid", "to": ["ops@test.invalid"],
        }},
    }


def _items(agent: AgentProcess, path: str, key: str = "items") -> Any:
    response = agent.api("GET", path)
    response.raise_for_status()
    return response.json()[key]


def desired_states(agent: AgentProcess) -> dict[str, str | None]:
    """Each deployment's recorded desired state (None before first sight)."""
    return {row["name"]: (row["desired"] or {}).get("state")
            for row in _items(agent, "/api/deployments")}


def desired_state(agent: AgentProcess, name: str) -> str | None:
    """One deployment's recorded desired state; None when unknown or the API is not up."""
    response = agent.api("GET", "/api/deployments")
    if response.status_code != 200:
        return None
    for row in response.json()["items"]:
        if row["name"] == name and row["desired"]:
            return str(row["desired"]["state"])
    return None


def assert_agent_alive(agent: AgentProcess, log: list[str]) -> None:
    """The agent still runs; else fail with how it ended (its log goes with the folder)."""
    proc = agent.proc
    if proc is not None and proc.poll() is not None:
        tail = agent.log_path.read_text(errors="replace")[-4000:]
        raise AssertionError(f"agent exited ({proc.returncode}) after {log}:\n{tail}")


def verdicts(agent: AgentProcess) -> dict[str, str]:
    """Each deployment's verdict, from ``GET /api/health``."""
    return {row["deployment"]: row["verdict"] for row in _items(agent, "/api/health")}


def events_connected(agent: AgentProcess) -> bool:
    """Whether the agent follows the engine's event stream."""
    body = agent.api("GET", "/healthz").json()
    return bool(body["docker"]["events_connected"])


def recovery_state(agent: AgentProcess, name: str) -> dict[str, Any]:
    """Phase (idle / backoff / gave-up), give-up reason, attempts of one deployment."""
    response = agent.api("GET", f"/api/deployments/{name}/recovery")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def open_problems(agent: AgentProcess) -> list[dict[str, Any]]:
    """The problems the notifier holds open (firing), one row each."""
    return list(_items(agent, "/api/notifications/outbox", "firing_problems"))


def outbox_idle(agent: AgentProcess) -> bool:
    """Whether every notification written so far has been delivered or given up."""
    counts = agent.api("GET", "/api/notifications/outbox").json()
    busy = {k: v for k, v in counts.items()
            if k in ("pending", "sending", "retrying") and isinstance(v, int) and v}
    return not busy


@dataclass(frozen=True)
class Mail:
    """One received mail, as a person reads it."""

    subject: str
    text: str

    @property
    def summary(self) -> bool:
        """A restart summary."""
        return " SUMMARY: " in self.subject or "recovered after " in self.subject

    @property
    def problem(self) -> bool:
        """A health problem notice (a new problem, or a severity change of an open one);
        a log pattern's notice is its own problem."""
        return "PROBLEM: " in self.subject and "log-pattern]" not in self.text

    @property
    def log_pattern(self) -> bool:
        """A log pattern's notice (a fingerprint firing)."""
        return "PROBLEM: " in self.subject and "log-pattern]" in self.text

    @property
    def severity_change(self) -> bool:
        """A problem told again because its severity changed."""
        return any(line.strip().startswith("Severity") and "->" in line
                   for line in self.text.splitlines())

    def names(self, name: str) -> bool:
        """Whether the subject is about deployment ``name``."""
        return mentions(self.subject, name)


def mails(sink: SmtpSink) -> list[Mail]:
    """Every mail received so far, in arrival order."""
    with sink.lock:
        received = list(sink.mails)
    return [Mail(str(m.message["Subject"]), m.text()) for m in received]


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` names deployment ``name`` as a whole word."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def summary_buckets(text: str) -> dict[str, str]:
    """The restart summary's placing lines: label -> the rest of the line."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("- "):
            continue
        label, _, rest = stripped[2:].partition(":")
        if label in SUMMARY_BUCKETS:
            found[label] = rest.strip()
    return found


def unaccounted(text: str, names: list[str]) -> dict[str, list[str]]:
    """Deployments the summary does not place on exactly one line: name -> its lines."""
    buckets = summary_buckets(text)
    wrong: dict[str, list[str]] = {}
    for name in names:
        lines = [label for label, rest in buckets.items() if mentions(rest, name)]
        if len(lines) != 1 or lines[0].startswith("not accounted for"):
            wrong[name] = lines
    return wrong
