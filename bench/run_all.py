"""Run every benchmark with its defaults and print their figures (`make bench`)."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench.bench_resources", "bench.bench_health", "bench.bench_recovery",
              "bench.bench_reboot", "bench.bench_cli", "bench.bench_metrics",
              "bench.bench_logs", "bench.bench_probes")


def main() -> int:
    """Run each benchmark in its own process; return non-zero if one failed."""
    failed = 0
    for module in BENCHMARKS:
        print(f"\n=== {module} ===", flush=True)
        failed += subprocess.run([sys.executable, "-m", module], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
