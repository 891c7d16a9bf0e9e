"""The deployment page's probes: each probe's last result, its latency chart, bad labels."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from stackmedic.web.charts import Chart, Line, render
from stackmedic.web.views.charts import time_label

if TYPE_CHECKING:
    from stackmedic.readmodel import AgentView

CHART_SECONDS = 3600.0


def probe_section(agent: AgentView, name: str) -> dict[str, Any]:
    """Rows of the probes table, the latency chart, and the labels that could not be used."""
    scheduler = agent.probes.scheduler
    detail = scheduler.detail(name)
    records = scheduler.book.records(name)
    rows = []
    for probe in detail:
        last = probe["last"] or {}
        result = probe["skipped"] or ("-" if not last else "ok" if last["ok"] else last["reason"])
        rows.append({**probe, "result": result,
                     "tone": "muted" if probe["skipped"] or not last else
                     "ok" if last["ok"] else "bad"})
    chart = None
    if any(r.history for r in records):
        until = time.time()
        since = max(until - CHART_SECONDS,
                    min(r.history[0].at for r in records if r.history) - 1.0)
        lines = [Line(f"{r.spec.service or name} {r.spec.target}",
                      [(p.at, p.duration * 1000) for p in r.history if p.ok])
                 for r in records]
        interval = min(r.spec.interval for r in records)
        chart = render(Chart("probes", f"Probe latency of {name} (ms)", lines, since, until,
                             "ms", interval * 3, time_label(until - since)))
    return {"rows": rows, "chart": chart or Markup(""), "errors": scheduler.invalid(name)}
