"""Sockets opened inside another network namespace (a container's), with no port published.

``setns(2)`` moves only the calling thread, and a socket stays in the namespace it was
created in wherever it is used afterwards: so a worker thread enters the container's
namespace, creates the socket, and returns to the agent's own before the next job. The
event loop then connects and talks over the socket as over any other. One thread per
socket creation costs tens of microseconds; an ``nsenter`` process per probe costs
milliseconds (``bench/bench_probes.py`` measures both).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000

__all__ = ["NamespaceError", "NetnsSockets", "namespace_path"]


class NamespaceError(OSError):
    """The network namespace could not be entered (gone, or not permitted)."""


def namespace_path(pid: int) -> str:
    """The network namespace file of process ``pid``."""
    return f"/proc/{pid}/ns/net"


def _libc_setns() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    setns = libc.setns
    setns.argtypes = [ctypes.c_int, ctypes.c_int]
    setns.restype = ctypes.c_int
    return setns


class NetnsSockets:
    """Creates sockets in other network namespaces on one dedicated worker thread."""

    def __init__(self) -> None:
        self._setns = _libc_setns()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netns")
        self._home: int | None = None  # the worker's own namespace, opened on its first job
        self._lock = threading.Lock()

    def _enter(self, fd: int, what: str) -> None:
        if self._setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NamespaceError(errno, f"cannot enter {what}: {os.strerror(errno)}")

    def _create(self, path: str, family: int) -> socket.socket:
        with self._lock:
            if self._home is None:
                self._home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net",
                                     os.O_RDONLY)
            try:
                target = os.open(path, os.O_RDONLY)
            except OSError as exc:
                raise NamespaceError(exc.errno, f"cannot open {path}: {exc.strerror}") from exc
            try:
                self._enter(target, path)
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM)
                finally:
                    # Never leave the worker in a container's namespace.
                    self._enter(self._home, "the agent's own network namespace")
            finally:
                os.close(target)
            sock.setblocking(False)
            return sock

    async def socket(self, path: str, family: int = socket.AF_INET) -> socket.socket:
        """A non-blocking TCP socket created in the namespace at ``path``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._create, path, family)

    def close(self) -> None:
        """Stop the worker thread and release the namespace handle."""
        self._pool.shutdown(wait=True)
        if self._home is not None:
            os.close(self._home)
            self._home = None
