"""Per-interface network counters of a network namespace, as cAdvisor reports them.

Read from ``/proc/<pid>/net/dev`` of a process inside the namespace, or taken from the
engine's stats API (``networks``). Like cAdvisor, loopback and the host-side ends of
container links (``veth*``, ``docker*``) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IGNORED_PREFIXES = ("lo", "veth", "docker", "nerdctl")


@dataclass(frozen=True, slots=True)
class InterfaceStats:
    """One interface's cumulative counters."""

    name: str
    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


def parse_net_dev(data: bytes) -> tuple[InterfaceStats, ...]:
    """The counters of ``/proc/net/dev`` text, ignored interfaces left out."""
    found: list[InterfaceStats] = []
    for line in data.splitlines()[2:]:
        name, sep, rest = line.partition(b":")
        if not sep:
            continue
        interface = name.strip().decode()
        if interface.startswith(IGNORED_PREFIXES):
            continue
        f = [int(v) for v in rest.split()]
        if len(f) < 12:
            raise ValueError(f"short /proc/net/dev line for {interface!r}")
        found.append(InterfaceStats(interface, f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11]))
    return tuple(found)


def read_net_dev(pid: int, proc: str = "/proc") -> tuple[InterfaceStats, ...] | None:
    """The counters of the namespace process ``pid`` is in; None when the process is gone."""
    try:
        with open(f"{proc}/{pid}/net/dev", "rb") as fh:
            return parse_net_dev(fh.read())
    except (FileNotFoundError, ProcessLookupError):
        return None


def from_stats_api(networks: Mapping[str, Any] | None) -> tuple[InterfaceStats, ...]:
    """The counters of the stats API's ``networks`` object (per interface)."""
    found = []
    for name, n in sorted((networks or {}).items()):
        if str(name).startswith(IGNORED_PREFIXES):
            continue
        found.append(InterfaceStats(
            str(name), int(n.get("rx_bytes", 0)), int(n.get("rx_packets", 0)),
            int(n.get("rx_errors", 0)), int(n.get("rx_dropped", 0)), int(n.get("tx_bytes", 0)),
            int(n.get("tx_packets", 0)), int(n.get("tx_errors", 0)), int(n.get("tx_dropped", 0)),
        ))
    return tuple(found)
