"""An agent whose socket proxy refuses the event stream: what it costs and what it says.

Run: `.venv/bin/python -m bench.bench_blind [--window 60] [--fault close|403]`.

The agent reaches the host's Docker daemon through the test kit's proxy, which refuses
`/events` (``close``: drops the connection; ``403``: answers as docker-socket-proxy does
with EVENTS=0) while everything else, `/_ping` included, works. Over ``--window`` seconds
it reports the agent's CPU (percent of one core), how many subscriptions it attempted,
how many rows its event log gained, and the status /healthz answers with.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from health.proxy import SocketProxy  # noqa: E402
from support.agent import AgentProcess  # noqa: E402


def rows(data: Path) -> int:
    """Rows in the agent's event log."""
    total = 0
    for path in data.glob("*.db"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            total += int(conn.execute("SELECT count(*) FROM agent_events").fetchone()[0])
    return total


def main() -> None:
    """Start a proxy and an agent, measure a window, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--fault", choices=("close", "403"), default="403")
    args = parser.parse_args()

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    proxy = SocketProxy()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
    proxy.fault(r"/events$", args.fault if args.fault == "close" else 403)
    work = Path(tempfile.mkdtemp(prefix="smblind"))
    (work / "deployments").mkdir()
    agent: AgentProcess | None = None
    try:
        config: dict[str, Any] = {
            "data_dir": str(work / "data"), "deployments_path": str(work / "deployments"),
            "log_level": "warning", "docker": {"host": proxy.host},
        }
        agent = AgentProcess(config, work / "agent")
        agent.start()
        assert agent.proc is not None
        process = psutil.Process(agent.proc.pid)
        time.sleep(5)  # a benchmark may wait: past start-up
        cpu0, rows0, tries0 = sum(process.cpu_times()[:2]), rows(work / "data"), proxy.count(
            r"/events$")
        started = time.monotonic()
        time.sleep(args.window)
        elapsed = time.monotonic() - started
        cpu = (sum(process.cpu_times()[:2]) - cpu0) / elapsed * 100
        gained = rows(work / "data") - rows0
        tries = proxy.count(r"/events$") - tries0
        health = httpx.get(agent.url + "/healthz", timeout=10)
        print(f"window {elapsed:.0f} s, /events refused ({args.fault})")
        print(f"  agent CPU            {cpu:6.2f} % of one core")
        print(f"  subscriptions tried  {tries}")
        print(f"  event-log rows added {gained}")
        print(f"  /healthz             {health.status_code} {health.json().get('problems', '')}")
    finally:
        if agent is not None:
            agent.close()
        asyncio.run_coroutine_threadsafe(proxy.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
