"""Running one probe: connect (inside a container's namespace or from the host), ask, judge."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import ssl
import time

import h11

from stackmedic.probes import tls
from stackmedic.probes.netns import NamespaceError, NetnsSockets
from stackmedic.probes.result import ProbeResult
from stackmedic.probes.spec import ProbeSpec
from stackmedic.types import ProbeFailure, ProbeKind

BODY_LIMIT = 64 * 1024
CLOSE_SECONDS = 1.0  # a TLS close waits for its notify; a silent peer is not waited for
USER_AGENT = "stackmedic-probe"


class _Failed(Exception):
    def __init__(self, failure: ProbeFailure, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason
        self.status = status


class ProbeRunner:
    """Runs probes; sockets for a container's probes are made inside its namespace."""

    def __init__(self, sockets: NetnsSockets | None = None,
                 outside_namespace: str | None = None) -> None:
        self._sockets = sockets
        self._outside = outside_namespace

    async def run(self, spec: ProbeSpec, namespace: str | None = None,
                  container: str | None = None) -> ProbeResult:
        """One attempt of ``spec``; ``namespace`` is the container's netns file, if inside."""
        at, start = time.time(), time.monotonic()
        status: int | None = None
        expires: list[float] = []
        where = namespace or self._outside
        try:
            async with asyncio.timeout(spec.timeout):
                status = await self._attempt(spec, where, expires)
        except _Failed as exc:
            took = time.monotonic() - start
            if exc.failure is ProbeFailure.TLS and spec.tls_verify and not expires:
                await self._read_refused_certificate(spec, where, expires)
            return ProbeResult(at, took, exc.failure, exc.reason, exc.status, _first(expires),
                               container)
        except TimeoutError:
            return ProbeResult(at, time.monotonic() - start, ProbeFailure.TIMEOUT,
                               f"timed out after {spec.timeout:g}s", None, _first(expires),
                               container)
        return ProbeResult(at, time.monotonic() - start, None, "", status, _first(expires),
                           container)

    async def _attempt(self, spec: ProbeSpec, namespace: str | None,
                       expires: list[float]) -> int | None:
        if spec.kind is ProbeKind.TCP:
            sock = await self._connect(spec, namespace)
            sock.close()
            return None
        return await self._http(spec, namespace, expires, verify=spec.tls_verify)

    async def _read_refused_certificate(self, spec: ProbeSpec, namespace: str | None,
                                        expires: list[float]) -> None:
        """A refused certificate's expiry, read on an unverified handshake (best effort)."""
        with contextlib.suppress(_Failed, OSError, TimeoutError):
            async with asyncio.timeout(spec.timeout):
                await self._http(spec, namespace, expires, verify=False, head_only=True)

    async def _connect(self, spec: ProbeSpec, namespace: str | None) -> socket.socket:
        loop = asyncio.get_running_loop()
        address = await _address(spec)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            if namespace is not None and self._sockets is not None:
                sock = await self._sockets.socket(namespace, family)
            else:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
        except NamespaceError as exc:
            raise _Failed(ProbeFailure.NAMESPACE, str(exc)) from None
        try:
            await loop.sock_connect(sock, (address, spec.port))
        except BaseException as exc:
            sock.close()
            if isinstance(exc, ConnectionRefusedError):
                raise _Failed(ProbeFailure.REFUSED,
                              f"connection refused on port {spec.port}") from None
            if isinstance(exc, OSError):
                raise _Failed(ProbeFailure.NETWORK, _os_reason(exc)) from None
            raise
        return sock

    async def _http(self, spec: ProbeSpec, namespace: str | None, expires: list[float], *,
                    verify: bool, head_only: bool = False) -> int:
        sock = await self._connect(spec, namespace)
        context = None
        if spec.tls:
            context = tls.context(verify, spec.tls_ca, bool(spec.server_name) and verify)
        try:
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context,
                server_hostname=(spec.server_name or "") if context else None)
        except ssl.SSLError as exc:
            sock.close()
            raise _Failed(ProbeFailure.TLS, tls.describe_error(exc)) from None
        except OSError as exc:
            sock.close()
            raise _Failed(ProbeFailure.NETWORK, _os_reason(exc)) from None
        try:
            at = tls.expires_at(writer.get_extra_info("ssl_object"))
            if at is not None:
                expires.append(at)
            if head_only:
                return 0
            return await _exchange(spec, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_SECONDS)


async def _exchange(spec: ProbeSpec, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> int:
    conn = h11.Connection(h11.CLIENT)
    host = spec.server_name or "localhost"
    if (spec.port, spec.tls) not in ((80, False), (443, True)):
        host = f"{host}:{spec.port}"
    request = h11.Request(method="GET", target=spec.path, headers=[
        ("Host", host), ("User-Agent", USER_AGENT), ("Connection", "close")])
    writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
    await writer.drain()
    status: int | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise _Failed(ProbeFailure.NETWORK, f"not an HTTP answer: {exc}") from None
        if event is h11.NEED_DATA:
            try:
                data = await reader.read(16384)
            except OSError as exc:
                raise _Failed(ProbeFailure.NETWORK, _os_reason(exc), status) from None
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            if not spec.status_ok(status):
                raise _Failed(ProbeFailure.STATUS, f"HTTP {status}", status)
            if spec.body is None:
                return status
        elif isinstance(event, h11.Data) and len(body) < BODY_LIMIT:
            body += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    assert status is not None
    if spec.body is not None and spec.body.encode() not in body:
        raise _Failed(ProbeFailure.BODY, f"HTTP {status} without {spec.body!r} in the answer",
                      status)
    return status


async def _address(spec: ProbeSpec) -> str:
    """Where to connect: a container's own loopback unless an address is given."""
    try:
        return str(ipaddress.ip_address(spec.host))
    except ValueError:
        pass
    if spec.inside:
        return "127.0.0.1"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            spec.host, spec.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Failed(ProbeFailure.NETWORK, f"cannot resolve {spec.host}: {exc.strerror}"
                      ) from None
    return str(infos[0][4][0])


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"network unreachable ({exc.strerror})"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return exc.strerror or str(exc) or type(exc).__name__


def _first(values: list[float]) -> float | None:
    return min(values) if values else None
