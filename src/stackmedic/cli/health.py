"""Terminal rendering of one deployment's health (``stackmedic health NAME``)."""

from __future__ import annotations

from typing import Any

from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time

PROBE_WIDTH = 60


def _probe(text: str | None) -> str:
    line = " ".join((text or "").split())
    if not line:
        return "-"
    return line if len(line) <= PROBE_WIDTH else line[: PROBE_WIDTH - 1] + "…"


def _dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def render_health(body: dict[str, Any]) -> str:
    """Verdict and reason, then one row per container (services without one included)."""
    since = body.get("since")
    when = f" since {local_time(since)}" if since else ""
    lines = [f"{body['deployment']}: {body['verdict']}{when}", f"reason: {body['reason']}", ""]
    rows = []
    containers = body.get("containers") or []
    for c in containers:
        rows.append(
            [
                c["service"],
                c["container"],
                c["status"],
                c["health"],
                _dash(c["exit_code"]),
                c["restart_count"],
                "yes" if c["oom_killed"] else "no",
                _probe(c["health_output"]),
            ]
        )
    seen = {c["service"] for c in containers}
    for name, service in sorted((body.get("services") or {}).items()):
        if name not in seen:
            rows.append([name, "-", service["status"], "-", "-", "-", "-", "-"])
    if rows:
        lines.append(
            render_table(
                [
                    "SERVICE",
                    "CONTAINER",
                    "STATUS",
                    "HEALTH",
                    "EXIT",
                    "RESTARTS",
                    "OOM",
                    "LAST PROBE OUTPUT",
                ],
                rows,
            )
        )
    else:
        lines.append("no containers")
    looping = {
        n: s for n, s in (body.get("services") or {}).items() if s["status"] == "crash-looping"
    }
    for name, service in sorted(looping.items()):
        codes = ", ".join(str(c) for c in service.get("exit_codes") or []) or "unknown"
        lines.append(f"{name} is crash-looping; exit codes seen: {codes}")
    lines += render_probes(body.get("probes") or [], body.get("probe_errors") or [])
    return "\n".join(lines)


def render_probes(probes: list[dict[str, Any]], errors: list[dict[str, Any]]) -> list[str]:
    """One row per endpoint probe (latency, result, certificate), then invalid labels."""
    lines: list[str] = []
    rows = []
    for p in probes:
        last = p.get("last") or {}
        result = "-" if not last else ("ok" if last.get("ok") else last.get("reason") or "failed")
        if p.get("skipped"):
            result = p["skipped"]
        latency = p.get("latency_ms")
        days = p.get("cert_days_left")
        where = (last.get("container") or "inside") if p.get("inside") else "host"
        rows.append([p.get("service") or "-", p["target"], where,
                     "-" if latency is None else f"{latency:.0f} ms",
                     f"{p.get('failures', 0)}/{p.get('failures_needed', '-')}",
                     "-" if days is None else f"{days:.1f} d", _probe(result)])
    if rows:
        lines += ["", render_table(
            ["SERVICE", "PROBE", "RUN IN", "LATENCY", "FAILED", "CERT", "LAST RESULT"], rows)]
    lines += [f"invalid probe label {e['text']}" for e in errors]
    return lines
