"""The Alertmanager channel against a real Alertmanager (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from notify.conftest import NotifierFactory, make_event, recovered_event
from support.servers import free_port
from support.wait import async_wait_until, wait_until

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"

pytestmark = pytest.mark.skipif(
    not Path(BINARY).exists(),
    reason="needs Debian's prometheus-alertmanager (apt-get install -y prometheus-alertmanager)",
)

CONFIG = """\
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A running Alertmanager on loopback; yields its base URL."""
    port = free_port()
    (tmp_path / "am.yml").write_text(CONFIG)
    log = (tmp_path / "am.log").open("w")
    process = subprocess.Popen(
        [
            BINARY,
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            f"--storage.path={tmp_path / 'data'}",
            f"--config.file={tmp_path / 'am.yml'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is None and httpx.get(f"{url}/-/ready").status_code == 200,
            30,
            ignore=(httpx.HTTPError,),
            message="alertmanager ready",
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


async def shop_alerts(url: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds for deployment shop."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/api/v2/alerts", params={"filter": 'deployment="shop"'})
    response.raise_for_status()
    return list(response.json())


async def test_firing_alert_appears_then_resolves(
    alertmanager: str, notifier_factory: NotifierFactory
) -> None:
    notifier = await notifier_factory(
        {
            "channels": {
                "am": {"type": "alertmanager", "url": alertmanager, "extra_labels": {"env": "t"}}
            }
        }
    )
    await notifier.submit(make_event(occurred_at=datetime.now(UTC)))
    [alert] = await async_wait_until(lambda: shop_alerts(alertmanager), 15)
    assert alert["status"]["state"] == "active"
    assert alert["labels"] == {
        "alertname": "ill-health",
        "deployment": "shop",
        "service": "web",
        "host": "testhost",
        "severity": "critical",
        "problem": "ill-health:shop:web",
        "env": "t",
    }
    assert alert["annotations"]["summary"] == "web exited with code 137"
    assert alert["annotations"]["exit_code"] == "137"
    assert datetime.fromisoformat(alert["endsAt"]) > datetime.now(UTC)

    await notifier.submit(recovered_event(occurred_at=datetime.now(UTC)))

    async def resolved() -> bool:
        alerts = await shop_alerts(alertmanager)
        return all(datetime.fromisoformat(a["endsAt"]) <= datetime.now(UTC) for a in alerts)

    await async_wait_until(resolved, 15, message="the alert resolved in Alertmanager")
    # Alertmanager can show the resolution before the outbox records the delivery.
    await async_wait_until(
        lambda: [n["state"] for n in notifier.list_notifications()] == ["sent", "sent"], 15,
        message="both notifications recorded as sent",
    )
