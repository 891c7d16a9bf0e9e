"""Real Prometheus and an Alertmanager cluster on loopback, for the fleet tests.

Both come from Debian's packages (`prometheus`, `prometheus-alertmanager`), run with
temporary storage under a test folder and are stopped (SIGTERM, then SIGKILL) on close.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .servers import free_port
from .wait import wait_until

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


class ServiceProcess:
    """One long-running program whose output goes to a log file in its folder."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self, argv: Sequence[str]) -> None:
        """Start the program."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def log_tail(self, limit: int = 3000) -> str:
        """The end of the program's log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def wait_ready(self, url: str, timeout: float) -> None:
        """Wait until ``url`` answers 200 (failing fast, with the log, if the program exits)."""

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            return httpx.get(url, timeout=2).status_code == 200

        wait_until(ready, timeout, interval=0.1, ignore=(httpx.HTTPError,),
                   message=f"{self.name} ready at {url}")

    def close(self) -> None:
        """Stop the program: SIGTERM, then SIGKILL when it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None


class PrometheusServer(ServiceProcess):
    """Prometheus on 127.0.0.1 with a config written from a mapping."""

    def __init__(self, folder: Path, config: Mapping[str, Any]) -> None:
        super().__init__("prometheus", folder)
        self.port = free_port()
        self.config_path = folder / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))

    @property
    def url(self) -> str:
        """Base URL of the web API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> PrometheusServer:
        """Start and wait until ``/-/ready``."""
        self.launch([
            PROMETHEUS,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ])
        self.wait_ready(f"{self.url}/-/ready", timeout)
        return self

    def _api(self, path: str, params: Mapping[str, str]) -> Any:
        """GET an API path; AssertionError naming the query when Prometheus refuses it."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=dict(params), timeout=30)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"{path} {dict(params)} failed: {response.status_code} {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result vector, evaluated now or at unix time ``at``."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        data = self._api("query", params)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Any]:
        """A range query's result matrix."""
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                  "step": f"{step:g}"}
        result: list[Any] = self._api("query_range", params)["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their health."""
        response = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=10)
        response.raise_for_status()
        active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        return active

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups with each rule's health."""
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups


class AlertmanagerMember(ServiceProcess):
    """One Alertmanager of a gossip cluster on loopback."""

    def __init__(self, folder: Path, index: int, config_path: Path) -> None:
        super().__init__(f"alertmanager-{index}", folder)
        self.port = free_port()
        self.cluster_port = free_port()
        self.config_path = config_path

    @property
    def url(self) -> str:
        """Base URL of the member's API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def peer_address(self) -> str:
        """Its gossip address, as other members name it in ``--cluster.peer``."""
        return f"127.0.0.1:{self.cluster_port}"

    def start(self, peers: Sequence[str], peer_timeout: float) -> None:
        """Start gossiping with ``peers``."""
        self.launch([
            ALERTMANAGER,
            f"--config.file={self.config_path}",
            f"--storage.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            f"--cluster.listen-address={self.peer_address}",
            f"--cluster.advertise-address={self.peer_address}",
            *(f"--cluster.peer={peer}" for peer in peers),
            f"--cluster.peer-timeout={peer_timeout:g}s",
            "--cluster.gossip-interval=100ms",
            "--cluster.pushpull-interval=2s",
        ])

    def status(self) -> dict[str, Any]:
        """``/api/v2/status``: cluster name, status and peers."""
        response = httpx.get(f"{self.url}/api/v2/status", timeout=10)
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def webhook_notifications(self) -> float:
        """How many notifications this member itself sent to webhook receivers."""
        response = httpx.get(f"{self.url}/metrics", timeout=10)
        response.raise_for_status()
        total = 0.0
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if (sample.name == "alertmanager_notifications_total"
                        and sample.labels.get("integration") == "webhook"):
                    total += sample.value
        return total

    def alerts(self, matcher: str | None = None) -> list[dict[str, Any]]:
        """Alerts the member holds, optionally filtered (``'host="h2"'``)."""
        params = {"filter": matcher} if matcher else {}
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts


class AlertmanagerCluster:
    """``size`` Alertmanagers gossiping on loopback, all with the same config."""

    def __init__(
        self, folder: Path, config: Mapping[str, Any], size: int = 2, peer_timeout: float = 2
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        self.peer_timeout = peer_timeout
        self.members = [
            AlertmanagerMember(folder / f"am{i}", i, self.config_path) for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        """Every member's base URL: senders post to each."""
        return [m.url for m in self.members]

    def start(self, timeout: float = 60) -> AlertmanagerCluster:
        """Start every member and wait until each is ready and sees all the others."""
        for member in self.members:
            others = [m.peer_address for m in self.members if m is not member]
            member.start(others, self.peer_timeout)
        for member in self.members:
            member.wait_ready(f"{member.url}/-/ready", timeout)

        def formed() -> bool:
            for member in self.members:
                cluster = member.status()["cluster"]
                if cluster["status"] != "ready" or len(cluster["peers"]) != len(self.members):
                    return False
            return True

        wait_until(formed, timeout, interval=0.2, ignore=(httpx.HTTPError,),
                   message="alertmanager cluster formed")
        return self

    def close(self) -> None:
        """Stop every member."""
        for member in self.members:
            member.close()
