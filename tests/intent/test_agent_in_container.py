"""The agent runs inside a container of the daemon it watches: `docker compose stop x`, then
the daemon shuts down (stopping the agent's own container in the same burst as every other)
and comes back on a new boot. `x` stays stopped, the rest come back, and the restart summary
lists `x` as left stopped on purpose.

The container is the offline busybox image with the host's Python, this checkout and its
virtualenv bind-mounted read-only at the same paths (no registry, no image build), the
daemon's socket at /var/run/docker.sock, and a data folder of the test's.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.agent import RECOVERY_ON, agent_config, free_port, merge
from support.deployments import DeploymentFactory, service
from support.dockerd import PrivateDockerd
from support.wait import wait_until

pytestmark = pytest.mark.docker

SLEEPER = {"app": service("sleep 3600")}
REPO = Path(__file__).resolve().parents[2]
AGENT = "smd-agent"
# One GET against the agent's API, run inside the daemon's network namespace (where the
# agent's container listens: it shares the daemon's namespace with `--network host`).
GET = ("import sys, urllib.request; r = urllib.request.Request(sys.argv[1], headers="
       "{'Authorization': 'Bearer ' + sys.argv[2]}); "
       "print(urllib.request.urlopen(r, timeout=5).read().decode())")


class ContainedAgent:
    """`stackmedic run` in a container of the private daemon."""

    def __init__(self, daemon: PrivateDockerd, folder: Path, config: dict[str, Any]) -> None:
        self.daemon = daemon
        self.folder = folder
        self.port = free_port()
        self.config = merge(config, {"api": {"port": self.port}})
        self.config_path = folder / "stackmedic.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config))

    def run(self, image: str) -> None:
        python_home = Path(sys.base_prefix)  # the interpreter the virtualenv was made from
        mounts = [
            ("/usr", "/usr", "ro"), ("/usr/lib", "/lib", "ro"), ("/usr/lib64", "/lib64", "ro"),
            (str(python_home), str(python_home), "ro"), (str(REPO), str(REPO), "ro"),
            (str(self.daemon.socket_path), "/var/run/docker.sock", "rw"),
            (str(self.folder), str(self.folder), "rw"),
        ]
        volumes = [arg for src, dst, mode in mounts for arg in ("-v", f"{src}:{dst}:{mode}")]
        command = f"exec {sys.executable} -m stackmedic run --config {self.config_path}"
        self.daemon.docker(
            "run", "-d", "--name", AGENT, "--restart", "unless-stopped", "--network", "host",
            "-e", "PYTHONDONTWRITEBYTECODE=1", *volumes, image, command)

    def get(self, path: str) -> Any:
        """GET an API path; None while the agent does not answer."""
        token_file = Path(self.config["data_dir"]) / "api-token"
        if not token_file.exists():
            return None
        result = subprocess.run(
            [shutil.which("nsenter") or "nsenter", f"--net={self.daemon.netns}",
             sys.executable, "-c", GET, f"http://127.0.0.1:{self.port}{path}",
             token_file.read_text().strip()],
            capture_output=True, text=True, timeout=30, check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def desired(self, name: str) -> str | None:
        body = self.get("/api/deployments")
        rows = [r for r in (body or {}).get("items", []) if r["name"] == name]
        return str(rows[0]["desired"]["state"]) if rows and rows[0]["desired"] else None

    def stop_stored(self, name: str) -> bool:
        """The agent has stored the stop it saw (or decided it already)."""
        path = Path(self.config["data_dir"]) / "stackmedic.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT COUNT(*) FROM pending_stops WHERE deployment = ?",
                              (name,)).fetchone()
        return bool(rows[0]) or self.desired(name) == "stopped"

    def summary(self) -> dict[str, Any] | None:
        body = self.get("/api/events?kind=restart-summary")
        items = (body or {}).get("items") or []
        return dict(items[0]["data"]) if items else None

    def logs(self) -> str:
        result = self.daemon.docker("logs", "--tail", "60", AGENT, check=False)
        return result.stdout + result.stderr


def test_agent_in_a_container_keeps_a_stop_across_a_reboot(
    tmp_path: Path, private_dockerd: PrivateDockerd, private_deployments: DeploymentFactory,
    busybox_image: str,
) -> None:
    kept = private_deployments.make("kept", SLEEPER)
    others = [private_deployments.make(f"other{n}", SLEEPER) for n in range(2)]
    for deployment in (kept, *others):
        deployment.up()
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-one\n")
    config = merge(
        agent_config(tmp_path / "data", private_deployments.root,
                     docker_host="unix:///var/run/docker.sock"),
        merge(RECOVERY_ON, {"boot_id_path": str(boot_id), "resources": {"enabled": False},
                            # Far longer than the test: only the evidence can decide.
                            "intent": {"stop_settle_seconds": 600}}),
    )
    agent = ContainedAgent(private_dockerd, tmp_path, config)
    agent.run(busybox_image)
    try:
        for deployment in (kept, *others):
            wait_until(lambda d=deployment: agent.desired(d.name) == "running", 90,
                       interval=0.5, message=f"{deployment.name} first seen running")
        kept.stop()
        wait_until(lambda: agent.stop_stored(kept.name), 30, message="the stop stored")
        # A reboot: the daemon stops every container, the agent's own among them.
        private_dockerd.stop()
        boot_id.write_text("boot-two\n")
        private_dockerd.start()  # the agent's container comes back by its restart policy
        try:
            summary = wait_until(agent.summary, 120, interval=0.5, message="restart summary")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; agent log:\n{agent.logs()}") from None
        assert summary["restart"] == "host"
        assert summary["left_stopped"] == [kept.name]
        assert sorted(b["deployment"] for b in summary["brought_back"]) == sorted(
            d.name for d in others)
        assert kept.states() == {"app": "exited"}
        assert all(d.states() == {"app": "running"} for d in others)
        assert agent.desired(kept.name) == "stopped"
        # The agent ran in the container through it all: stopped with the daemon, started
        # again by the container's restart policy.
        starts = agent.get("/api/events?kind=agent-started")["items"]
        stops = agent.get("/api/events?kind=agent-stopped")["items"]
        assert (len(starts), len(stops)) == (2, 1)
        changed = agent.get(f"/api/events?kind=intent-changed&deployment={kept.name}")
        evidence = changed["items"][0]["data"]["evidence"]
        # The daemon took a new connection after the person's stop began: not its shutdown.
        assert evidence["intent"] and not evidence["uncertain"]
        assert evidence["answered_at"] >= evidence["kill_at"]
    finally:
        private_dockerd.docker("rm", "-f", AGENT, check=False)
