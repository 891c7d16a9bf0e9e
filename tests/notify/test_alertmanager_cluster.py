"""Alertmanager clusters: every alert posted to every member, each member's delivery on its own.

The end-to-end test runs two of Debian's ``prometheus-alertmanager`` in one gossip cluster on
loopback, stops one while an alert is delivered and starts it again: it gets the alert
then, and the member that stayed up received it exactly once (Alertmanager's own counter).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from notify.conftest import NotifierFactory, make_event
from stackmedic.notify import NotifyConfig
from stackmedic.notify.channels.alertmanager import AlertmanagerChannel
from stackmedic.notify.config import load_notify_config
from stackmedic.notify.errors import ChannelUnreachable, NotifyConfigError
from stackmedic.notify.models import MessageEvent, RenderedMessage
from stackmedic.notify.outbox import Outbox
from stackmedic.notify.render import RenderContext, render
from stackmedic.store.db import Database
from support.servers import free_port
from support.wait import async_wait_until, wait_until

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
NEEDS_ALERTMANAGER = pytest.mark.skipif(
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


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "set either 'url' (one Alertmanager) or 'urls' (every member of a cluster)"),
        ({"url": "http://am1", "urls": ["http://am2"]}, "not both"),
        ({"urls": []}, "urls: must list at least one Alertmanager URL"),
        ({"urls": ["http://am1", "ftp://am2"]}, "urls: must be an absolute http"),
        ({"urls": ["http://am1:9093", "http://am1:9093/"]}, "lists http://am1:9093 more than once"),
    ],
)
def test_url_or_urls_is_required_with_a_clear_error(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config({"channels": {"am": {"type": "alertmanager", **settings}}})
    assert "notifications.channels.am" in str(caught.value)
    assert problem in str(caught.value)


def cluster_channel(seen: list[tuple[str, Any]], down: set[str]) -> AlertmanagerChannel:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host in down:
            raise httpx.ConnectError("connection refused", request=request)
        seen.append((request.url.host, json.loads(request.content)))
        return httpx.Response(200)

    config = NotifyConfig.model_validate({
        "host": "h3",
        "channels": {"am": {"type": "alertmanager", "urls": ["http://am1:9093", "http://am2"]}},
    })
    settings = config.channels["am"]
    return AlertmanagerChannel("am", settings, transport=httpx.MockTransport(handle))


def message(db: Database) -> RenderedMessage:
    outbox = Outbox(db)
    with db.transaction() as conn:
        event = make_event(occurred_at=datetime.now(UTC))
        item = MessageEvent(event=event, alert_severity="critical",
                            alert_started_at=event.occurred_at)
        nid = outbox.add(conn, item, ["am"], 0.0, 0.0)
    stored = outbox.load(nid)
    assert stored is not None
    return render(stored, RenderContext(host="h3"))


async def test_each_member_is_a_delivery_of_its_own(db: Database) -> None:
    seen: list[tuple[str, Any]] = []
    channel = cluster_channel(seen, down={"am2"})
    members = channel.members()
    assert sorted(members) == ["am#1", "am#2"]
    assert channel.describe()["settings"]["urls"] == ["http://am1:9093", "http://am2"]
    await members["am#1"].send(message(db))
    assert [host for host, _ in seen] == ["am1"]
    [alert] = seen[0][1]
    assert alert["labels"]["host"] == "h3" and alert["labels"]["deployment"] == "shop"
    with pytest.raises(ChannelUnreachable):
        await members["am#2"].send(message(db))
    await channel.aclose()


async def test_a_send_through_the_cluster_posts_to_every_member(db: Database) -> None:
    seen: list[tuple[str, Any]] = []
    channel = cluster_channel(seen, down=set())
    await channel.send(message(db))  # e.g. `stackmedic notify test am`
    assert sorted(host for host, _ in seen) == ["am1", "am2"]
    await channel.aclose()


def test_outbox_writes_one_delivery_per_member(db: Database) -> None:
    outbox = Outbox(db, {"am": ["am#1", "am#2"]})
    event = make_event()
    item = MessageEvent(event=event, alert_severity="critical", alert_started_at=event.occurred_at)
    with db.transaction() as conn:
        outbox.add(conn, item, ["am", "mail"], 0.0, 0.0)
    rows = db.fetchall("SELECT channel FROM notification_deliveries ORDER BY id")
    assert [r["channel"] for r in rows] == ["am#1", "am#2", "mail"]


class Member:
    """One Alertmanager of a loopback cluster, stoppable and startable on the same ports."""

    def __init__(self, folder: Path, peers: list[str]) -> None:
        self.folder, self.peers = folder, peers
        self.port, self.cluster_port = free_port(), free_port()
        folder.mkdir(parents=True)
        (folder / "am.yml").write_text(CONFIG)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gossip(self) -> str:
        return f"127.0.0.1:{self.cluster_port}"

    def start(self) -> None:
        log = (self.folder / "am.log").open("a")
        self.process = subprocess.Popen(
            [
                BINARY,
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--cluster.listen-address={self.gossip}",
                f"--cluster.advertise-address={self.gossip}",
                *(f"--cluster.peer={peer}" for peer in self.peers),
                "--cluster.settle-timeout=5s",
                f"--storage.path={self.folder / 'data'}",
                f"--config.file={self.folder / 'am.yml'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        process = self.process
        wait_until(
            lambda: process.poll() is None
            and httpx.get(f"{self.url}/-/ready").status_code == 200,
            60,
            ignore=(httpx.HTTPError,),
            message=f"alertmanager {self.url} ready",
        )

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def received_firing(self) -> float:
        """Alerts this member received over its API (its own counter)."""
        text = httpx.get(f"{self.url}/metrics").text
        return sum(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "alertmanager_alerts_received_total" and s.labels["status"] == "firing"
        )

    async def shop_alerts(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"{self.url}/api/v2/alerts", params={"filter": 'deployment="shop"'}
            )
        response.raise_for_status()
        return list(response.json())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Member]]:
    """Two Alertmanagers gossiping with each other on loopback."""
    first = Member(tmp_path / "am1", [])
    second = Member(tmp_path / "am2", [])
    first.peers, second.peers = [second.gossip], [first.gossip]
    try:
        first.start()
        second.start()
        yield [first, second]
    finally:
        first.stop()
        second.stop()


@NEEDS_ALERTMANAGER
async def test_member_down_during_delivery_gets_the_alert_later_the_other_once(
    cluster: list[Member], notifier_factory: NotifierFactory, db: Database
) -> None:
    up, down = cluster
    notifier = await notifier_factory(
        {"channels": {"am": {"type": "alertmanager", "urls": [up.url, down.url]}}}
    )
    down.stop()
    await notifier.submit(make_event(occurred_at=datetime.now(UTC)))
    [alert] = await async_wait_until(up.shop_alerts, 15, interval=0.2, message="alert at am#1")
    assert alert["labels"]["host"] == "testhost"
    assert alert["labels"]["deployment"] == "shop"

    def delivery(name: str) -> dict[str, Any]:
        row = db.fetchone(
            "SELECT status, attempts FROM notification_deliveries WHERE channel = ?", (name,)
        )
        assert row is not None
        return dict(row)

    await async_wait_until(lambda: delivery("am#2")["attempts"] >= 2, 15,
                           message="am#2 retried while down")
    assert delivery("am#2")["status"] in ("retrying", "sending")

    down.start()
    [late] = await async_wait_until(down.shop_alerts, 30, interval=0.2,
                                    message="alert at am#2 once it is back")
    assert late["labels"] == alert["labels"]
    await async_wait_until(lambda: delivery("am#2")["status"] == "sent", 15,
                           message="am#2 delivery recorded as sent")
    assert delivery("am#1") == {"status": "sent", "attempts": 1}
    assert up.received_firing() == 1  # never sent again while am#2 was retried
    assert down.received_firing() == 1
