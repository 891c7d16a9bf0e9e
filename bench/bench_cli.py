"""Wall and CPU time of each CLI command against a live agent (the target is under 0.3 s),
beside the same commands from a baseline revision.

Run: `.venv/bin/python -m bench.bench_cli [--runs 7] [--baseline main]`.

An agent without Docker (its socket does not exist) serves the API; each command runs
`--runs` times as its own process, the way a person types it. For each the median wall
time, the slowest, and the median CPU time (user + system: what the command costs whatever
else the machine is doing) are printed beside a bare `python -c pass` (the interpreter's
own start). With `--baseline REF` the same commands also run from `git archive REF src`
(its dependencies must be installed in this environment) and the ratio baseline/now is
printed. Last, the heavy packages a command imports are listed: a fast command imports
Typer (with its bundled click and the pydantic it coerces parameters with) and none of
httpx, rich, fastapi, the Docker client, the agent or its configuration schema.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess, agent_config  # noqa: E402

ENTRY = ("import sys; sys.argv[0] = 'stackmedic'; "
         "from stackmedic.cli.main import main; sys.exit(main())")
COMMANDS: list[list[str]] = [
    ["--help"], ["status"], ["events", "-n", "20"], ["notify", "list"], ["unsilence", "7"],
    ["health", "nosuch"], ["check"], ["config", "check"],
]
HEAVY = ("httpx", "rich", "fastapi", "uvicorn", "aiodocker", "stackmedic.agent",
         "stackmedic.config.model")
SHOW_MODULES = ("import atexit, json, sys; atexit.register("
                "lambda: print(json.dumps(sorted(sys.modules)), "
                "file=sys.stderr)); ")


Timings = tuple[list[float], list[float]]


def run_once(command: list[str], env: dict[str, str], into: Timings) -> None:
    """Run ``command`` once; append its wall and CPU seconds, start to exit, to ``into``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False)
    into[0].append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    into[1].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def timed(command: list[str], envs: list[dict[str, str]], runs: int) -> list[Timings]:
    """Wall and CPU seconds of each run of ``command`` under each of ``envs``; the runs
    alternate between them so that a change in the machine's load hits both alike."""
    results: list[Timings] = [([], []) for _ in envs]
    for _ in range(runs):
        for env, into in zip(envs, results, strict=True):
            run_once(command, env, into)
    return results


def heavy_imports(command: list[str], env: dict[str, str], src: Path) -> list[str]:
    """The heavy packages the command loads."""
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES + ENTRY, *command], check=False,
        env={**env, "PYTHONPATH": str(src)}, capture_output=True, text=True)
    last = shown.stderr.strip().splitlines()[-1] if shown.stderr.strip() else "[]"
    loaded = set(json.loads(last)) if last.startswith("[") else set()
    return [name for name in HEAVY if name in loaded]


def baseline_source(ref: str, into: Path) -> Path:
    """The ``src`` folder of revision ``ref``, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> int:
    """Start an agent, time every command (now and baseline), print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", metavar="REF", help="git revision to compare with")
    args = parser.parse_args()
    results: list[tuple[str, Timings, Timings | None, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="smd-bench-cli-") as folder:
        base = Path(folder)
        (base / "deployments").mkdir()
        config = agent_config(base / "data", base / "deployments",
                              docker_host=f"unix://{base}/missing.sock")
        agent = AgentProcess(config, base / "agent")
        old_src = baseline_source(args.baseline, base / "old") if args.baseline else None
        now_src = ROOT / "src"
        try:
            agent.start()
            env = agent.env()
            load_before = os.getloadavg()[0]
            (bare,) = timed([sys.executable, "-c", "pass"], [env], args.runs)
            results.append(("python -c pass", bare, None, []))
            envs = [{**env, "PYTHONPATH": str(source)}
                    for source in (now_src, old_src) if source is not None]
            for command in COMMANDS:
                now, *old = timed([sys.executable, "-c", ENTRY, *command], envs, args.runs)
                results.append((" ".join(command), now, old[0] if old else None,
                                heavy_imports(command, env, now_src)))
        finally:
            agent.close()
    print(f"cores: {os.cpu_count()}, load average (1 min) before: {load_before:.1f}, "
          f"after: {os.getloadavg()[0]:.1f}, runs: {args.runs}")
    header = f"{'command':<20} {'median s':>9} {'max s':>7} {'cpu s':>7}"
    if args.baseline:
        header += f" {'base median':>12} {'base cpu':>9} {'ratio':>6}"
    print(header + "   heavy imports")
    for name, (wall, cpu), old, heavy in results:
        line = (f"{name:<20} {statistics.median(wall):>9.3f} {max(wall):>7.3f} "
                f"{statistics.median(cpu):>7.3f}")
        if old is not None:
            ratio = statistics.median(old[0]) / statistics.median(wall)
            line += (f" {statistics.median(old[0]):>12.3f} {statistics.median(old[1]):>9.3f}"
                     f" {ratio:>5.1f}x")
        elif args.baseline:
            line += " " * 29
        print(line + "   " + (", ".join(heavy) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
