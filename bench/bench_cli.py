"""Wall time of each CLI command against a live agent (the target is under 0.3 s).

Run: `.venv/bin/python -m bench.bench_cli [--runs 7]`.

An agent without Docker (its socket does not exist) serves the API; each command runs
`--runs` times as its own process, the way a person types it, and the median wall time,
the slowest, and the median CPU time (user + system: what the command costs whatever else
the machine does) are printed beside a bare `python -c pass` for the interpreter's start.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess, agent_config  # noqa: E402

STACKMEDIC = [str(Path(sys.executable).with_name("stackmedic"))]
COMMANDS: list[list[str]] = [
    ["--help"], ["status"], ["events", "-n", "20"], ["notify", "list"], ["unsilence", "7"],
    ["health", "nosuch"], ["config", "check"],
]


def timed(command: list[str], env: dict[str, str], runs: int
          ) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run of ``command``, start to exit."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=False)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    """Start an agent, time every command, print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smd-bench-cli-") as folder:
        base = Path(folder)
        (base / "deployments").mkdir()
        config = agent_config(base / "data", base / "deployments",
                              docker_host=f"unix://{base}/missing.sock")
        agent = AgentProcess(config, base / "agent")
        try:
            agent.start()
            env = agent.env()
            rows = [("python -c pass", timed([sys.executable, "-c", "pass"], env, args.runs))]
            for command in COMMANDS:
                rows.append((" ".join(command), timed(STACKMEDIC + command, env, args.runs)))
        finally:
            agent.close()
    print(f"{'command':<24} {'median s':>9} {'max s':>7} {'cpu s':>7}   "
          f"(cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f})")
    for name, (wall, cpu) in rows:
        print(f"{name:<24} {statistics.median(wall):>9.3f} {max(wall):>7.3f} "
              f"{statistics.median(cpu):>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
