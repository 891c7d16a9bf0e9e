"""``stackmedic logs NAME``: a deployment's log fingerprints and the state of its logs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from stackmedic.cli.app import ConfigOption, JsonOption, NameArgument, app
from stackmedic.cli.calls import call
from stackmedic.cli.tables import render_table
from stackmedic.cli.times import local_time

LINE_WIDTH = 70


def _line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def render_logs(body: dict[str, Any], *, top_only: bool) -> str:
    """Top fingerprints (most lines first), then, unless ``top_only``, each container."""
    name = body["deployment"]
    rows = [[r["fingerprint"], r["rule"], r["service"], r["count"],
             local_time(r["last_seen"]), "yes" if r["firing"] else "no", _line(r["first_line"])]
            for r in body["top"]]
    parts = [f"{name}: no log line matched a rule yet" if not rows else
             render_table(["FINGERPRINT", "RULE", "SERVICE", "COUNT", "LAST SEEN", "FIRING",
                           "FIRST LINE"], rows)]
    for row in body["top"]:
        triage = row.get("triage") or {}
        if triage.get("summary"):
            parts.append(f"{row['fingerprint']} triage: {triage['summary']} "
                         f"(next: {triage.get('next_step', '-')})")
    if not top_only:
        followed = [[c["service"], c["container"], c["state"], c["lines"], c["cut_lines"],
                     c["detail"] or "-"] for c in body["containers"]]
        if not body.get("enabled", True):
            parts.append("following logs is turned off (logs.enabled: false)")
        elif followed:
            parts.append(render_table(["SERVICE", "CONTAINER", "LOG", "LINES", "CUT", "DETAIL"],
                                      followed))
    return "\n\n".join(parts)


@app.command()
def logs(
    name: NameArgument,
    config: ConfigOption = None,
    top: Annotated[bool, typer.Option("--top", help="Only the top fingerprints.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200)] = 10,
    as_json: JsonOption = False,
) -> None:
    """A deployment's log fingerprints with the most lines, and how its logs are read."""
    body = call(config, "GET", f"/api/deployments/{name}/logs", params={"limit": limit})
    typer.echo(json.dumps(body, indent=2) if as_json else render_logs(body, top_only=top))
