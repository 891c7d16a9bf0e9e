"""Probes of URLs outside the containers, from the config: HTTPS certificates about to expire
or expired, and the whole host's network failing at once (one problem, not one per site)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.agent import AgentHandle, running_agent
from support.deployments import DeploymentFactory
from support.dockerd import PrivateDockerd
from support.mails import mail_settings, problems, resolved, subjects, texts
from support.servers import SmtpSink, free_port
from support.wait import async_assert_holds, async_wait_until

from .certs import Authority, tls_server
from .services import plain

FAST = {"interval_seconds": 1, "timeout_seconds": 5, "failures": 2}


async def probes_of(h: AgentHandle, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await h.get(f"/api/deployments/{name}/probes"))["probes"]
    return found


async def test_certificates_expiring_in_5_days_and_expired(
    tmp_path: Path, private_deployments: DeploymentFactory, private_dockerd: PrivateDockerd,
    smtp: SmtpSink,
) -> None:
    authority = Authority(tmp_path)
    soon = private_deployments.make("soon", {"app": plain()})
    gone = private_deployments.make("gone", {"app": plain()})
    await asyncio.gather(asyncio.to_thread(soon.up), asyncio.to_thread(gone.up))
    with tls_server(*authority.issue("soon", 5)) as soon_port, \
            tls_server(*authority.issue("gone", -1)) as gone_port:
        outside = {
            soon.name: [{"url": f"https://localhost:{soon_port}/", "tls_ca": str(authority.path)}],
            gone.name: [{"url": f"https://localhost:{gone_port}/", "tls_ca": str(authority.path)}],
        }
        settings = mail_settings(smtp, recover=False,
                                 probes={**FAST, "grace_seconds": 1, "outside": outside})
        async with running_agent(tmp_path / "data", private_deployments.root,
                                 docker_host=private_dockerd.host, **settings) as h:
            warned = await async_wait_until(lambda: _about(smtp, soon.name, "expires in"), 30,
                                            message="expiry warning")
            assert "expires in 5.0 days" in warned[0] or "expires in 4.9 days" in warned[0]
            [probe] = await probes_of(h, soon.name)
            assert probe["last"]["ok"] and 4.9 < probe["cert_days_left"] <= 5.0, probe
            health = await h.get(f"/api/deployments/{soon.name}/health")
            assert health["verdict"] == "healthy", health  # a warning, not an outage

            expired = await async_wait_until(lambda: _about(smtp, gone.name, "expired"), 30,
                                             message="expired certificate")
            assert "CRITICAL" in expired[0], expired[0]
            [probe] = await probes_of(h, gone.name)
            assert not probe["last"]["ok"] and probe["cert_days_left"] < 0, probe
            assert "certificate has expired" in probe["last"]["reason"], probe
            await async_wait_until(lambda: problems(smtp, f"{gone.name} is"), 30,
                                   message="the expired site is ill")

            text = (await h.api.get("/metrics")).text
            line = next(m for m in text.splitlines() if m.startswith(
                "probe_ssl_earliest_cert_expiry") and soon.name in m)
            assert f'target="https://localhost:{soon_port}/"' in line, line


def _about(smtp: SmtpSink, name: str, words: str) -> list[str]:
    return [t for t in texts(smtp, name) if words in t.split("\n", 1)[0]]


@contextmanager
def namespace_with_web(root: Path) -> Iterator[tuple[int, int]]:
    """A network namespace of its own with a web server in it: (its pid, the port)."""
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("ok")
    port = free_port()
    server = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", "busybox ip link set lo up && exec busybox httpd -f "
         f"-p 127.0.0.1:{port} -h {root / 'www'}"])
    try:
        yield server.pid, port
    finally:
        server.terminate()
        server.wait(10)


def set_loopback(pid: int, state: str) -> None:
    subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "busybox", "ip", "link", "set", "lo",
                    state], check=True)


async def test_every_probe_failing_at_once_is_one_problem_of_the_host(
    tmp_path: Path, private_deployments: DeploymentFactory, private_dockerd: PrivateDockerd,
    smtp: SmtpSink,
) -> None:
    sites = [private_deployments.make(n, {"app": plain()}) for n in ("north", "south")]
    await asyncio.gather(*(asyncio.to_thread(s.up) for s in sites))
    with namespace_with_web(tmp_path) as (pid, port):
        url = f"http://127.0.0.1:{port}/"
        outside = {sites[0].name: [{"url": url}, {"url": url + "index.html"}],
                   sites[1].name: [{"url": url}]}
        settings = mail_settings(smtp, probes={
            **FAST, "failures": 3, "grace_seconds": 1, "outside": outside,
            "outside_namespace": f"/proc/{pid}/ns/net"})
        async with running_agent(tmp_path / "data", private_deployments.root,
                                 docker_host=private_dockerd.host, **settings) as h:
            async def all_pass() -> bool:
                found = [p for s in sites for p in await probes_of(h, s.name)]
                return len(found) == 3 and all(p["last"] and p["last"]["ok"] for p in found)

            await async_wait_until(all_pass, 30, message="every probe passes")
            await asyncio.to_thread(set_loopback, pid, "down")
            told = await async_wait_until(lambda: subjects(smtp, "Every probe"), 30,
                                          message="one host problem")
            assert "all 3 probes of 2 deployments fail at once" in texts(smtp, "Every probe")[0]

            async def one_problem() -> bool:
                verdicts = [(await h.get(f"/api/deployments/{s.name}/health"))["verdict"]
                            for s in sites]
                return verdicts == ["healthy", "healthy"] and not any(
                    problems(smtp, s.name) for s in sites) and len(
                    subjects(smtp, "Every probe")) == len(told)

            await async_assert_holds(one_problem, 5, interval=0.5,
                                     message="one problem of the host, none per deployment")
            assert (await h.get("/api/probes"))["host_down"]
            await asyncio.to_thread(set_loopback, pid, "up")
            await async_wait_until(lambda: resolved(smtp, "Probes pass again"), 30,
                                   message="host problem resolved")
            assert not any(problems(smtp, s.name) for s in sites), subjects(smtp)
