"""The cAdvisor families read after each sample (network, CPU modes, CFS periods, swap,
fail count, block I/O, filesystems) and the machine's, under cAdvisor's names and labels."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from stackmedic.metrics.cadvisor_extra import ContainerExtras, ExtrasCost, RootExtras
from stackmedic.resources.cgroup_extra import ExtraCounters
from stackmedic.resources.fs_usage import FsUsage, block_device_name
from stackmedic.resources.models import HostSample
from stackmedic.resources.netdev import InterfaceStats

NETWORK: tuple[tuple[str, str, Callable[[InterfaceStats], int]], ...] = (
    ("receive_bytes", "Cumulative count of bytes received", lambda i: i.rx_bytes),
    ("receive_packets", "Cumulative count of packets received", lambda i: i.rx_packets),
    ("receive_errors", "Cumulative count of errors encountered while receiving",
     lambda i: i.rx_errors),
    ("receive_packets_dropped", "Cumulative count of packets dropped while receiving",
     lambda i: i.rx_dropped),
    ("transmit_bytes", "Cumulative count of bytes transmitted", lambda i: i.tx_bytes),
    ("transmit_packets", "Cumulative count of packets transmitted", lambda i: i.tx_packets),
    ("transmit_errors", "Cumulative count of errors encountered while transmitting",
     lambda i: i.tx_errors),
    ("transmit_packets_dropped", "Cumulative count of packets dropped while transmitting",
     lambda i: i.tx_dropped),
)


class ExtraFamilies:
    """The extra families of one scrape, filled container by container."""

    def __init__(self, labels: list[str], devices: dict[tuple[int, int], str]) -> None:
        def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=[*labels, *extra])

        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*labels, *extra])

        self.user = counter("container_cpu_user_seconds_total",
                            "Cumulative user cpu time consumed in seconds.")
        self.system = counter("container_cpu_system_seconds_total",
                              "Cumulative system cpu time consumed in seconds.")
        self.periods = counter("container_cpu_cfs_periods_total",
                               "Number of elapsed enforcement period intervals.")
        self.throttled_periods = counter("container_cpu_cfs_throttled_periods_total",
                                         "Number of throttled period intervals.")
        self.swap = gauge("container_memory_swap", "Container swap usage in bytes.")
        self.max_usage = gauge("container_memory_max_usage_bytes",
                               "Maximum memory usage recorded in bytes.")
        self.mapped_file = gauge("container_memory_mapped_file",
                                 "Size of memory mapped files in bytes.")
        # cAdvisor types it a counter though its name has no _total: kept untyped here, so
        # the exposition keeps the name (prometheus_client would append _total).
        self.failcnt = Metric("container_memory_failcnt",
                              "Number of memory usage hits limits.", "unknown")
        self.network = [
            counter(f"container_network_{name}_total", f"{doc}.", ("interface",))
            for name, doc, _ in NETWORK
        ]
        self.reads = counter("container_fs_reads_bytes_total",
                             "Cumulative count of bytes read.", ("device",))
        self.writes = counter("container_fs_writes_bytes_total",
                              "Cumulative count of bytes written.", ("device",))
        self.blkio = counter("container_blkio_device_usage_total", "Blkio device bytes usage.",
                             ("device", "major", "minor", "operation"))
        self.fs_usage = gauge("container_fs_usage_bytes", "Number of bytes that are consumed"
                              " by the container on this filesystem.", ("device",))
        self.fs_limit = gauge("container_fs_limit_bytes", "Number of bytes that can be consumed"
                              " by the container on this filesystem.", ("device",))
        self.inodes_total = gauge("container_fs_inodes_total", "Number of Inodes.", ("device",))
        self.inodes_free = gauge("container_fs_inodes_free", "Number of available Inodes.",
                                 ("device",))
        self._labels = labels
        self._devices = devices  # block device names by number, kept across scrapes

    def add(self, values: list[str], extras: ContainerExtras | None, quota: bool) -> None:
        """One container's extra figures (the CFS periods only under a quota, as cAdvisor)."""
        if extras is None:
            return
        if extras.counters is not None:
            self._counters(values, extras.counters, extras.read_at, quota)
        if extras.network is not None:
            self._network(values, extras.network, extras.read_at)

    def add_root(self, values: list[str], root: RootExtras) -> None:
        """The root cgroup's figures and the host's interfaces."""
        if root.reading is not None:
            self._counters(values, root.reading.extra, root.read_at, quota=False)
        if root.network is not None:
            self._network(values, root.network, root.read_at)

    def add_filesystems(self, values: list[str], filesystems: tuple[FsUsage, ...]) -> None:
        """One container's usage per filesystem, with the filesystem's size and inodes."""
        for fs in filesystems:
            row = [*values, fs.device]
            self.fs_usage.add_metric(row, fs.usage_bytes)
            self.fs_limit.add_metric(row, fs.limit_bytes)
            self.inodes_total.add_metric(row, fs.inodes_total)
            self.inodes_free.add_metric(row, fs.inodes_free)

    def _counters(self, values: list[str], c: ExtraCounters, ts: float, quota: bool) -> None:
        if c.cpu_user_seconds is not None:
            self.user.add_metric(values, c.cpu_user_seconds, timestamp=ts)
        if c.cpu_system_seconds is not None:
            self.system.add_metric(values, c.cpu_system_seconds, timestamp=ts)
        if quota and c.cfs_periods is not None:
            self.periods.add_metric(values, c.cfs_periods, timestamp=ts)
        if quota and c.cfs_throttled_periods is not None:
            self.throttled_periods.add_metric(values, c.cfs_throttled_periods, timestamp=ts)
        if c.swap_bytes is not None:
            self.swap.add_metric(values, c.swap_bytes, timestamp=ts)
        if c.max_usage_bytes is not None:
            self.max_usage.add_metric(values, c.max_usage_bytes, timestamp=ts)
        if c.mapped_file_bytes is not None:
            self.mapped_file.add_metric(values, c.mapped_file_bytes, timestamp=ts)
        if c.failcnt is not None:
            self.failcnt.add_sample("container_memory_failcnt",
                                    dict(zip(self._labels, values, strict=True)), c.failcnt,
                                    timestamp=ts)
        for io in c.io:
            device = self._device(io.major, io.minor)
            self.reads.add_metric([*values, device], io.read_bytes, timestamp=ts)
            self.writes.add_metric([*values, device], io.write_bytes, timestamp=ts)
            for operation, value in (("Read", io.read_bytes), ("Write", io.write_bytes)):
                self.blkio.add_metric(
                    [*values, device, str(io.major), str(io.minor), operation], value,
                    timestamp=ts)

    def _network(self, values: list[str], interfaces: tuple[InterfaceStats, ...],
                 ts: float) -> None:
        for interface in interfaces:
            row = [*values, interface.name]
            for family, (_, _, value) in zip(self.network, NETWORK, strict=True):
                family.add_metric(row, value(interface), timestamp=ts)

    def _device(self, major: int, minor: int) -> str:
        name = self._devices.get((major, minor))
        if name is None:
            name = self._devices[(major, minor)] = block_device_name(major, minor)
        return name

    def all(self) -> list[Metric]:
        """The families, in cAdvisor's order of concerns."""
        return [self.user, self.system, self.periods, self.throttled_periods, self.swap,
                self.max_usage, self.mapped_file, self.failcnt, *self.network, self.reads,
                self.writes, self.blkio, self.fs_usage, self.fs_limit, self.inodes_total,
                self.inodes_free]


def cost_families(cost: ExtrasCost) -> list[Metric]:
    """What reading the extra figures cost the agent so far (CPU seconds)."""
    reads = CounterMetricFamily(
        "stackmedic_cadvisor_read_cpu_seconds",
        "CPU time spent reading the cAdvisor figures beyond the sample.", labels=["part"])
    reads.add_metric(["cgroups_and_network"], cost.read_seconds)
    reads.add_metric(["filesystem_walk"], cost.fs_seconds)
    return [reads]


def machine_families(host: HostSample | None) -> list[Metric]:
    """machine_cpu_cores, machine_memory_bytes and machine_swap_bytes of the host sample."""
    if host is None:
        return []
    found: list[Metric] = []
    for name, doc, value in (
        ("machine_cpu_cores", "Number of logical CPU cores.", host.cpu_count),
        ("machine_memory_bytes", "Amount of memory installed on the machine.",
         host.memory_total_bytes),
        ("machine_swap_bytes", "Amount of swap memory available on the machine.",
         host.swap_total_bytes),
    ):
        family = GaugeMetricFamily(name, doc)
        family.add_metric([], value)
        found.append(family)
    return found
