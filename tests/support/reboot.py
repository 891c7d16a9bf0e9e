"""A host of a reboot test: a private daemon, its boot id file, an agent with recovery on
that mails a real SMTP sink, and what the summary mails said."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.agent import RECOVERY_ON, AgentProcess, agent_config, merge
from support.deployments import Deployment, DeploymentFactory
from support.dockerd import PrivateDockerd
from support.lifecycle import email_channel
from support.servers import SmtpSink
from support.wait import assert_holds, wait_until

QUIET_SECONDS = 5  # after a summary: no other mail follows it


@dataclass
class Host:
    """The private daemon, the boot id file, the agent and the mail sink of one row."""

    dockerd: PrivateDockerd
    factory: DeploymentFactory
    boot_id: Path
    agent: AgentProcess
    sink: SmtpSink
    boots: int = 1

    def reboot(self, *, while_down: Callable[[], None] = lambda: None,
               at_boot: Callable[[], None] = lambda: None) -> float:
        """A host reboot: systemd stops stackmedic, then Docker; a new boot id; Docker
        starts (``at_boot`` runs before stackmedic does), then stackmedic. Returns when
        the daemon went down."""
        self.agent.terminate()
        down_at = time.time()
        self.dockerd.stop()
        while_down()
        self.boots += 1
        self.boot_id.write_text(f"boot-{self.boots}\n")
        self.dockerd.start()
        at_boot()
        self.agent.start()
        return down_at

    def mail_texts(self) -> list[str]:
        """Every mail's text so far, oldest first."""
        with self.sink.lock:
            return [m.text() for m in self.sink.mails]

    def summaries(self) -> list[str]:
        """The restart summary mails so far, oldest first."""
        return [text for text in self.mail_texts() if "recovered after" in text]

    def wait_summary(self, count: int, timeout: float = 180) -> str:
        """The ``count``-th summary mail, once it came; then no other mail for a while."""
        before = self.sink.count()
        text = wait_until(lambda: self.summaries()[count - 1] if len(self.summaries()) >= count
                          else None, timeout, message=f"restart summary mail {count}")
        sent = self.sink.count()
        try:
            assert_holds(lambda: self.sink.count() == sent, QUIET_SECONDS,
                         message="no mail besides the summary")
        except AssertionError:
            with self.sink.lock:
                extra = [m.text()[:600] for m in self.sink.mails[sent:]]
            raise AssertionError(f"mail after the summary: {extra}") from None
        assert sent >= before
        return str(text)

    def api(self, path: str) -> Any:
        """One API answer (JSON)."""
        response = self.agent.api("GET", path)
        response.raise_for_status()
        return response.json()

    def verdict(self, deployment: Deployment) -> str | None:
        """The deployment's verdict, None before the agent answers."""
        response = self.agent.api("GET", f"/api/deployments/{deployment.name}/health")
        return str(response.json().get("verdict")) if response.status_code == 200 else None

    def events(self, kind: str, since: float) -> list[dict[str, Any]]:
        """Event-log rows of ``kind`` since ``since``."""
        items: list[dict[str, Any]] = self.api(f"/api/events?kind={kind}&limit=500")["items"]
        return [e for e in items if e["ts"] >= since]

    def short(self, text: str) -> str:
        """``text`` with the deployments' unique prefix taken out."""
        return text.replace(f"{self.factory.prefix}-", "")

    def lines(self, text: str) -> dict[str, str]:
        """The summary's lines by their label (its first line under ``head``)."""
        head = next((line.strip() for line in text.splitlines()
                     if line.strip().startswith("recovered after") and line.endswith(":")),
                    None)
        assert head is not None, text
        found = {"head": self.short(head)}
        for line in text.splitlines():
            if line.startswith("- ") and ": " in line:
                label, _, rest = line[2:].partition(": ")
                found[label] = self.short(rest)
        return found


@contextmanager
def host(tmp_path: Path, dockerd: PrivateDockerd, factory: DeploymentFactory,
         extra: Mapping[str, Any] | None = None, **recovery: Any) -> Iterator[Host]:
    """An agent with recovery on, watching the private daemon, mailing the sink
    (``recovery`` settings and ``extra`` config on top of the test timings)."""
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-1\n")
    sink = SmtpSink().start()
    config = merge(
        agent_config(tmp_path / "data", factory.root, docker_host=dockerd.host),
        merge(RECOVERY_ON, {
            "boot_id_path": str(boot_id),
            "recovery": {"boot_parallelism": 8, **recovery},
            "notifications": email_channel(sink),
        }),
    )
    agent = AgentProcess(merge(config, extra or {}), tmp_path / "agent")
    try:
        yield Host(dockerd, factory, boot_id, agent, sink)
    finally:
        agent.close()
        sink.stop()
