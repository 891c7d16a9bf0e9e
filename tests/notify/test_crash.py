"""Durability: an SMTP outage plus a SIGKILLed agent lose nothing and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from notify.conftest import FAST, NotifierFactory
from stackmedic.store.db import Database
from support.servers import SmtpSink, free_port
from support.wait import async_wait_until

AGENT = """
import asyncio, json, sys
from datetime import UTC, datetime
from stackmedic.notify import NotificationEvent, Notifier, NotifyConfig
from stackmedic.store.db import Database

async def main() -> None:
    notifier = Notifier(NotifyConfig.model_validate(json.loads(sys.argv[1])), Database(sys.argv[2]))
    await notifier.start()
    await notifier.submit(NotificationEvent(
        kind="ill-health", severity="critical", deployment="shop", service="web",
        title="web exited with code 137", details={"exit_code": 137},
        occurred_at=datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)))
    await asyncio.Event().wait()

asyncio.run(main())
"""


def delivery(db: Database) -> dict[str, Any] | None:
    """The single delivery row, if written yet."""
    row = db.fetchone("SELECT status, attempts FROM notification_deliveries")
    return dict(row) if row else None


async def test_outage_and_kill_then_restart_delivers_exactly_once(
    tmp_path: Path, notifier_factory: NotifierFactory
) -> None:
    port = free_port()
    config = {
        **FAST,
        "retry_initial_seconds": 0.2,
        "retry_max_seconds": 0.4,
        "channels": {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": "stackmedic@example.org",
                "to": ["ops@example.org"],
                "timeout_seconds": 60,
            }
        },
    }
    path = tmp_path / "agent.db"
    watcher = Database(path)
    log = (tmp_path / "agent.log").open("w")
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT,
        json.dumps(config),
        str(path),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    hung = socket.socket()
    try:
        # Nothing listens yet: the first attempt is refused and a retry is scheduled.
        await async_wait_until(
            lambda: (d := delivery(watcher)) and d["status"] == "retrying",
            30,
            message="a refused attempt",
        )
        # A server that accepts the connection but never greets: the next attempt hangs.
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", port))
        hung.listen(8)
        await async_wait_until(
            lambda: (d := delivery(watcher)) and d["status"] == "sending" and d["attempts"] >= 2,
            30,
            message="an attempt in progress",
        )
        agent.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(agent.wait(), 30) == -signal.SIGKILL
    finally:
        if agent.returncode is None:
            agent.kill()
            await asyncio.wait_for(agent.wait(), 30)
        hung.close()
        log.close()
    killed_during = delivery(watcher)
    assert killed_during is not None and killed_during["status"] == "sending"

    smtp = SmtpSink(port=port).start()
    restarted_db = Database(path)
    try:
        notifier = await notifier_factory(
            {k: v for k, v in config.items() if k not in FAST}, db=restarted_db
        )
        await async_wait_until(lambda: (d := delivery(watcher)) and d["status"] == "sent", 30)
        assert smtp.count() == 1
        key = watcher.fetchone("SELECT idempotency_key FROM notifications")["idempotency_key"]
        assert key in smtp.mails[0].message["Message-ID"]
        assert "137" in smtp.mails[0].message["Subject"]
        assert notifier.outbox_state()["sent"] == 1
        assert len(notifier.list_notifications()) == 1
        await notifier.close()
    finally:
        smtp.stop()
        restarted_db.close()
        watcher.close()
