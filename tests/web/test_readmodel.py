"""The API and the dashboard read the agent only through the typed read model."""

from __future__ import annotations

import re
from pathlib import Path

import stackmedic

SRC = Path(stackmedic.__file__).parent
READERS = [*sorted((SRC / "api").rglob("*.py")), *sorted((SRC / "web").rglob("*.py")),
           SRC / "views.py", SRC / "readmodel.py"]
# The accessor and the place the agent is put on the app.
OWNERS = {SRC / "readmodel.py", SRC / "api" / "app.py"}


def test_routes_and_views_reach_the_agent_only_through_agent_view() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in READERS if path not in OWNERS
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "state.agent" in line or re.search(r"\bstackmedic\.agent import\b", line)
    ]
    assert offenders == []


def test_the_dashboard_holds_no_sql() -> None:
    sql = re.compile(r"\b(fetchall|fetchone|execute)\(|\bSELECT\b|\bINSERT\b|\bagent\.db\b")
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted((SRC / "web").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if sql.search(line)
    ]
    assert offenders == []
