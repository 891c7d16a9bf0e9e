"""Tells a host restart from a daemon restart from a mere agent restart.

A daemon restart is declared only on evidence: the identity of the process serving the
engine's socket changed (its pid and start time, or failing that the socket file, which
the daemon creates anew at each start). A reconnect alone is no evidence: a proxy that
drops the event stream, or a short network cut to a tcp:// engine, is not a restart.

Podman has no long-lived daemon: ``podman system service`` is socket-activated and exits
when idle, while conmon keeps every container running. A new service process is no
restart of anything, so with Podman only the boot id decides (a host restart); the
containers' own start and finish times then say what the reboot stopped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import struct
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import psutil
import structlog

from stackmedic.engine.identity import EngineKind
from stackmedic.store.facts import Facts

log = structlog.get_logger(__name__)

BOOT_FACT = "host-boot-id"
DAEMON_FACT = "docker-daemon-identity"


class RestartKind(StrEnum):
    """What restarted since the agent last looked."""

    FIRST_RUN = "first-run"
    HOST = "host"
    DAEMON = "daemon"
    AGENT = "agent"


def read_boot_id(path: Path) -> str | None:
    """The kernel's boot id (changes on every boot), or None when unreadable."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def daemon_identity(docker_host: str) -> str | None:
    """``pid:start-time`` of the process serving the engine's unix socket, when visible.

    The peer credentials of the socket name the daemon's process; its start time changes
    on every daemon start. Over TCP, or from a container that cannot see the host's
    processes, this returns None and the agent relies on the event stream instead.
    """
    if not docker_host.startswith("unix://"):
        return None
    path = docker_host[len("unix://"):]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                    struct.calcsize("3i"))
        pid = struct.unpack("3i", creds)[0]
        if pid > 0:
            return f"{pid}:{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        pass
    except OSError:
        return None
    return socket_identity(path)


def socket_identity(path: str) -> str | None:
    """``socket:inode:ctime`` of the engine's socket file (new at each daemon start)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"socket:{st.st_ino}:{st.st_ctime_ns}"


def daemon_start_time(identity: str | None) -> float | None:
    """The daemon's start time (seconds since the epoch) from its identity, if known."""
    if not identity or ":" not in identity:
        return None
    try:
        return float(identity.split(":", 1)[1])
    except ValueError:
        return None


def classify(
    *, stored_boot: str | None, current_boot: str | None,
    stored_daemon: str | None, current_daemon: str | None,
) -> RestartKind:
    """Compare what was remembered with what is seen now."""
    if stored_boot is None and stored_daemon is None:
        return RestartKind.FIRST_RUN
    if stored_boot and current_boot and stored_boot != current_boot:
        return RestartKind.HOST
    if (stored_daemon and current_daemon and stored_daemon != current_daemon
            and _same_source(stored_daemon, current_daemon)):
        return RestartKind.DAEMON
    return RestartKind.AGENT


def _same_source(a: str, b: str) -> bool:
    """Whether two identities were seen the same way (process or socket file)."""
    return a.startswith("socket:") == b.startswith("socket:")


class RestartDetector:
    """Remembers the boot id and daemon identity and says what restarted since last time."""

    def __init__(self, facts: Facts, boot_id_path: Path, docker_host: str,
                 engine_kind: Callable[[], EngineKind] | None = None) -> None:
        self._facts = facts
        self._boot_id_path = boot_id_path
        self._docker_host = docker_host
        self._engine_kind = engine_kind or (lambda: EngineKind.UNKNOWN)
        self.daemon_started_at: float | None = None

    async def detect(self, *, first: bool) -> RestartKind:
        """Classify this connection to the engine, then remember what is seen now.

        ``first``: the agent's first connection since it started (only then can the host
        have rebooted). The socket is probed in a worker thread: it may block.
        """
        boot = read_boot_id(self._boot_id_path)
        daemon = None
        if self._engine_kind() is not EngineKind.PODMAN:  # see the module docstring
            daemon = await asyncio.to_thread(daemon_identity, self._docker_host)
        self.daemon_started_at = daemon_start_time(daemon)
        kind = classify(
            stored_boot=self._facts.get(BOOT_FACT) if first else boot, current_boot=boot,
            stored_daemon=self._facts.get(DAEMON_FACT), current_daemon=daemon,
        )
        try:
            if boot:
                self._facts.set(BOOT_FACT, boot)
            if daemon:
                self._facts.set(DAEMON_FACT, daemon)
        except (sqlite3.Error, OSError) as exc:  # told again at the next connection
            log.error("restart identity not saved", error=str(exc))
        return kind
