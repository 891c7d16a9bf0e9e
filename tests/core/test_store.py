"""The SQLite store: migrations, desired states, the event log, durability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.store.events import EventLog, EventQuery
from stackmedic.types import DesiredState


def test_migrations_apply_once_and_use_wal(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    version = db.schema_version()
    assert version >= 1
    assert db.fetchone("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
    db.close()
    again = Database(tmp_path / "s.db")
    assert again.migrate() == []
    assert again.schema_version() == version


def test_deployment_intent_clears_service_overrides(tmp_path: Path) -> None:
    store = DesiredStateStore(Database(tmp_path / "s.db"))
    store.set("shop", DesiredState.RUNNING, "api")
    store.set("shop", DesiredState.STOPPED, "observed-stop", service="worker")
    assert store.effective("shop", "worker") == DesiredState.STOPPED
    assert store.effective("shop", "web") == DesiredState.RUNNING
    _, changed = store.set("shop", DesiredState.RUNNING, "cli")
    assert changed is False
    assert store.effective("shop", "worker") == DesiredState.RUNNING
    assert store.services("shop") == {}


def test_first_sight_never_overwrites_intent(tmp_path: Path) -> None:
    store = DesiredStateStore(Database(tmp_path / "s.db"))
    store.set("blog", DesiredState.STOPPED, "cli")
    record, new = store.set_if_absent("blog", DesiredState.RUNNING, "first-seen")
    assert new is False
    assert record.state == DesiredState.STOPPED
    assert record.source == "cli"


def test_event_log_filters_pages_and_prunes(tmp_path: Path) -> None:
    log = EventLog(Database(tmp_path / "s.db"))
    for i in range(5):
        log.record("action", f"a{i}", deployment="shop", at=1000.0 + i)
    log.record("health-changed", "h", deployment="blog", severity="warning", at=2000.0)
    first = log.query(EventQuery(deployment="shop", limit=2))
    assert [e["message"] for e in first] == ["a4", "a3"]
    second = log.query(EventQuery(deployment="shop", limit=2, before_id=first[-1]["id"]))
    assert [e["message"] for e in second] == ["a2", "a1"]
    assert [e["message"] for e in log.query(EventQuery(severity="warning"))] == ["h"]
    assert log.prune(500, now=2100.0) == 5
    assert [e["message"] for e in log.query(EventQuery())] == ["h"]


def test_event_log_names_its_kinds_and_deployments(tmp_path: Path) -> None:
    log = EventLog(Database(tmp_path / "s.db"))
    assert log.kinds() == [] and log.deployments() == set()
    log.record("health-changed", "h", deployment="blog")
    log.record("action", "a", deployment="shop")
    log.record("action", "b", deployment="shop")
    log.record("agent-started", "up")
    assert log.kinds() == ["action", "agent-started", "health-changed"]
    assert log.deployments() == {"blog", "shop"}


WRITER = """
import os, sys
from stackmedic.store.db import Database
from stackmedic.store.desired import DesiredStateStore
from stackmedic.types import DesiredState
store = DesiredStateStore(Database(sys.argv[1]))
store.set("shop", DesiredState.STOPPED, "cli")
print("committed", flush=True)
os.kill(os.getpid(), 9)
"""


def test_committed_state_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    result = subprocess.run([sys.executable, "-c", WRITER, str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == -9
    assert "committed" in result.stdout
    record = DesiredStateStore(Database(path)).get("shop")
    assert record is not None
    assert (record.state, record.source) == (DesiredState.STOPPED, "cli")
