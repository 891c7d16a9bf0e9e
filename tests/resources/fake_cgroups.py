"""Fake cgroup trees in a temp folder, in each layout the engine may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

V1_UNLIMITED = 9223372036854771712


@dataclass
class FakeContainer:
    """The figures a fake container's cgroup files show."""

    cpu_ns: int = 0
    usage: int = 10_000_000
    inactive_file: int = 2_000_000
    oom_kills: int = 0
    memory_limit: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int = 100_000
    cpuset: str = "0-3"
    extra_stat_lines: list[str] = field(default_factory=list)


class FakeCgroupTree:
    """Writes the files stackmedic reads, in the v1/v2 and cgroupfs/systemd layouts."""

    def __init__(
        self, root: Path, version: Literal[1, 2], driver: Literal["cgroupfs", "systemd"]
    ) -> None:
        self.root, self.version, self.driver = root, version, driver
        if version == 2:
            root.mkdir(parents=True, exist_ok=True)
            (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        else:
            cpu_dirs = ["cpu", "cpuacct"] if driver == "cgroupfs" else ["cpu,cpuacct"]
            for controller in ["memory", "cpuset", *cpu_dirs]:
                (root / controller).mkdir(parents=True, exist_ok=True)

    def _rel(self, cid: str) -> str:
        return f"docker/{cid}" if self.driver == "cgroupfs" else f"system.slice/docker-{cid}.scope"

    def write(self, cid: str, c: FakeContainer) -> None:
        """Create or update a container's files in place (kept-open descriptors see updates)."""
        rel = self._rel(cid)
        if self.version == 2:
            base = self.root / rel
            stat = ["anon 100", "file 200", *c.extra_stat_lines, f"inactive_file {c.inactive_file}"]
            files = {
                base / "cpu.stat": f"usage_usec {c.cpu_ns // 1000}\nuser_usec 1\nsystem_usec 1\n",
                base / "memory.current": f"{c.usage}\n",
                base / "memory.stat": "\n".join([*stat, "active_file 5"]) + "\n",
                base / "memory.events": f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {c.oom_kills}\n",
                base / "memory.max": f"{c.memory_limit if c.memory_limit else 'max'}\n",
                base / "cpu.max": f"{c.cpu_quota_us or 'max'} {c.cpu_period_us}\n",
                base / "cpuset.cpus.effective": f"{c.cpuset}\n",
            }
        else:
            cpu = "cpu" if self.driver == "cgroupfs" else "cpu,cpuacct"
            acct = "cpuacct" if self.driver == "cgroupfs" else "cpu,cpuacct"
            memory = self.root / "memory" / rel
            stat = [
                f"cache {c.inactive_file}",
                f"inactive_file {c.inactive_file // 2}",
                *c.extra_stat_lines,
                f"total_inactive_file {c.inactive_file}",
            ]
            files = {
                self.root / acct / rel / "cpuacct.usage": f"{c.cpu_ns}\n",
                self.root / cpu / rel / "cpu.cfs_quota_us": f"{c.cpu_quota_us or -1}\n",
                self.root / cpu / rel / "cpu.cfs_period_us": f"{c.cpu_period_us}\n",
                self.root / "cpuset" / rel / "cpuset.effective_cpus": f"{c.cpuset}\n",
                memory / "memory.usage_in_bytes": f"{c.usage}\n",
                memory / "memory.stat": "\n".join(stat) + "\n",
                memory / "memory.oom_control": f"oom_kill_disable 0\noom_kill {c.oom_kills}\n",
                memory / "memory.limit_in_bytes": f"{c.memory_limit or V1_UNLIMITED}\n",
            }
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "r+" if path.exists() else "w", encoding="ascii") as fh:
                fh.write(text)
                fh.truncate()
