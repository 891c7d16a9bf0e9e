"""One probe against real servers on loopback: what each kind of failure is called."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stackmedic.probes.config import OutsideProbe, ProbesConfig
from stackmedic.probes.run import ProbeRunner
from stackmedic.probes.spec import ProbeSpec, from_config
from stackmedic.types import ProbeFailure
from support.servers import free_port

from .certs import Authority, tls_server

CONFIG = ProbesConfig(timeout_seconds=0.5)


def spec(url: str, **options: object) -> ProbeSpec:
    if url.startswith("https"):
        options.setdefault("timeout_seconds", 10)  # handshakes on a busy machine
    entry = OutsideProbe.model_validate({"url": url, **options})
    [found], errors = from_config("shop", [entry], CONFIG)
    assert errors == []
    return found


@pytest.fixture
async def server() -> AsyncIterator[int]:
    """Answers ``/ok`` with 200 ``fine``, ``/broken`` with 500 and ``/hang`` never."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode()
            while (await reader.readline()).strip():
                pass
            if " /hang " in line:
                await done.wait()
                return
            status = "500 Broken" if " /broken " in line else "200 OK"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 4\r\n\r\nfine".encode())
            await writer.drain()
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with listening:
        yield int(listening.sockets[0].getsockname()[1])
        done.set()
        await asyncio.sleep(0)


async def test_http_answers_statuses_bodies_timeouts_and_refusals(server: int) -> None:
    runner = ProbeRunner()
    base = f"http://127.0.0.1:{server}"
    ok = await runner.run(spec(base + "/ok", body="fine"))
    assert ok.ok and ok.status_code == 200 and ok.duration > 0
    broken = await runner.run(spec(base + "/broken"))
    assert (broken.failure, broken.reason, broken.status_code) == (
        ProbeFailure.STATUS, "HTTP 500", 500)
    assert (await runner.run(spec(base + "/broken", status="500"))).ok
    missing = await runner.run(spec(base + "/ok", body="welcome"))
    assert (missing.failure, missing.reason) == (
        ProbeFailure.BODY, "HTTP 200 without 'welcome' in the answer")
    hung = await runner.run(spec(base + "/hang"))
    assert (hung.failure, hung.reason) == (ProbeFailure.TIMEOUT, "timed out after 0.5s")
    refused = await runner.run(spec(f"tcp://127.0.0.1:{free_port()}"))
    assert (refused.failure, refused.reason) == (
        ProbeFailure.REFUSED, refused.reason) and "connection refused" in refused.reason
    assert (await runner.run(spec(f"tcp://127.0.0.1:{server}"))).ok


async def test_https_reads_the_certificate_even_when_it_is_refused(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    runner = ProbeRunner()
    with tls_server(*authority.issue("valid", 40)) as good, \
            tls_server(*authority.issue("expired", -2)) as bad:
        valid = await runner.run(spec(f"https://localhost:{good}/", tls_ca=str(authority.path)))
        assert valid.ok, valid
        assert 39.9 < (valid.cert_days_left(time.time()) or 0) <= 40
        untrusted = await runner.run(spec(f"https://localhost:{good}/"))
        assert untrusted.failure is ProbeFailure.TLS, untrusted
        assert "unable to get local issuer certificate" in untrusted.reason
        expired = await runner.run(spec(f"https://localhost:{bad}/", tls_ca=str(authority.path)))
        assert expired.failure is ProbeFailure.TLS
        assert expired.reason == "TLS certificate refused: certificate has expired"
        assert -2.1 < (expired.cert_days_left(time.time()) or 0) < -1.9
        unchecked = await runner.run(spec(f"https://localhost:{bad}/", tls_verify=False))
        assert unchecked.ok and unchecked.cert_expires_at == expired.cert_expires_at
