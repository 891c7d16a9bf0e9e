"""Renders ``stackmedic diagnose``: what is wrong, what would be done, and the last log lines."""

from __future__ import annotations

from typing import Any

TAIL_SHOWN = 10


def render_diagnosis(name: str, body: dict[str, Any]) -> str:
    """The diagnose answer as text a person reads top to bottom."""
    diagnosis: dict[str, Any] = body.get("diagnosis") or {}
    evidence: dict[str, Any] = body.get("evidence") or {}
    lines = [f"{name}: {diagnosis.get('summary', '')}",
             f"source: {diagnosis.get('source', 'rules')}"]
    if diagnosis.get("needs_human"):
        lines.append(f"needs a person: {diagnosis['needs_human']}")
    lines += [f"  - {detail}" for detail in diagnosis.get("details") or []]
    llm = diagnosis.get("llm")
    if isinstance(llm, dict):
        lines.append(_llm_line(llm))
    for service, info in sorted((evidence.get("services") or {}).items()):
        kills = int(info.get("oom_kills_recent") or 0)
        if kills:
            lines.append(f"{service}: OOM-killed {kills} time{'s' if kills > 1 else ''}")
    suggestions = diagnosis.get("suggestions") or []
    if suggestions:
        lines.append("would do:")
        lines += [f"  {s['action']:<15} {s['service']:<20} {s.get('reason', '')}"
                  for s in suggestions]
    for service, tail in sorted((diagnosis.get("log_tail") or {}).items()):
        shown = [line for line in tail if str(line).strip()][-TAIL_SHOWN:]
        if shown:
            lines.append(f"last log lines of {service}:")
            lines += [f"  {line}" for line in shown]
    return "\n".join(lines)


def _llm_line(llm: dict[str, Any]) -> str:
    if llm.get("used"):
        return "adviser: its suggestions are used"
    answer = str(llm.get("answer") or "").strip().splitlines()
    said = f' (it answered: "{answer[0][:200]}")' if answer else ""
    return f"adviser not used: {llm.get('why_not_used') or llm.get('error') or 'no reason'}{said}"
