"""History pruning off the event loop: the deletes run in a worker thread, the same rows go."""

from __future__ import annotations

import threading

from stackmedic.store import Database

from .test_history import T0, make, record_minutes


async def test_pruning_off_the_loop_drops_what_retention_says(db: Database) -> None:
    history = make(db, raw_retention_seconds=60, minute_retention_seconds=300,
                   ring_keep_seconds=100)
    record_minutes(history, 2)
    history.flush()
    loop_thread = threading.get_ident()
    threads: set[int] = set()
    db._conn.set_trace_callback(  # which thread runs the deletes
        lambda sql: threads.add(threading.get_ident()) if sql.startswith("DELETE") else None)
    try:
        deleted = await history.prune_off_loop(T0 + 119)
    finally:
        db._conn.set_trace_callback(None)
    assert deleted > 0
    assert threads and loop_thread not in threads, "the deletes ran on the loop thread"
    raw_ts = [r["ts"] for r in db.fetchall("SELECT ts FROM resource_samples_raw")]
    assert min(raw_ts) >= T0 + 119 - 60
    assert await history.prune_off_loop(T0 + 1000) > 0
    assert db.fetchall("SELECT * FROM resource_samples_raw") == []
    assert [r["kind"] for r in db.fetchall("SELECT kind FROM resource_series")] == ["host"]
    assert history.ring("a") == []
