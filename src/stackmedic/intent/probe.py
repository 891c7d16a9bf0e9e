"""Whether the daemon accepts a new connection right now (not one from a pool).

An orderly daemon shutdown closes the API listener before it stops any container (measured
in tests/intent/test_shutdown_burst.py), so a new connection accepted after a stop began
proves the stop was not part of a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

PROBE_TIMEOUT_SECONDS = 1.0
REQUEST = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"


async def accepts_connections(docker_host: str,
                              timeout: float = PROBE_TIMEOUT_SECONDS) -> bool | None:
    """True if the daemon answers ``/_ping`` on a new connection, False if it refuses.

    None when the host cannot be probed this way (TLS): the caller has no evidence then.
    """
    try:
        return await asyncio.wait_for(_ping(docker_host), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False


async def _ping(docker_host: str) -> bool | None:
    if docker_host.startswith("unix://"):
        reader, writer = await asyncio.open_unix_connection(docker_host[len("unix://"):])
    elif docker_host.startswith(("tcp://", "http://")):
        url = urlsplit(docker_host)
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 2375)
    else:
        return None
    try:
        writer.write(REQUEST)
        await writer.drain()
        status = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status.split()
    return len(parts) >= 2 and parts[1] == b"200"
