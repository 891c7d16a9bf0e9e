"""CPU the agent spends on endpoint probes: 100 HTTP probes every 10 s.

Run: `.venv/bin/python -m bench.bench_probes [--probes 100] [--interval 10] [--rounds 3]`.
A child process serves 100 HTTP endpoints on loopback (its CPU is not counted); this
process runs the probes as the agent does (``ProbeRunner`` under ``probes.concurrency``,
each result counted in the ``ProbeBook``), first with plain sockets, then with every socket
made inside a network namespace (``NetnsSockets``, the agent's own namespace file here so
no containers are needed). The baseline is the same loop with no probes. Prints the CPU
seconds per minute, the percent of one core, and the ratio to the baseline; then the cost
of entering a namespace per socket, the way chosen (a thread doing ``setns``) against an
``nsenter`` process per probe.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from stackmedic.probes.book import ProbeBook
from stackmedic.probes.config import OutsideProbe, ProbesConfig
from stackmedic.probes.netns import NetnsSockets
from stackmedic.probes.run import ProbeRunner
from stackmedic.probes.spec import ProbeSpec, from_config

HOME = "/proc/self/ns/net"


def _serve(count: int, ports: multiprocessing.Queue[list[int]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", 0) for _ in range(count)]
        ports.put([int(server.sockets[0].getsockname()[1]) for server in servers])
        await asyncio.Event().wait()

    asyncio.run(main())


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(round_: Callable[[], Awaitable[None]], interval: float, rounds: int
                  ) -> float:
    """CPU seconds per minute of running ``round_`` every ``interval`` seconds."""
    started_cpu, started = cpu(), time.monotonic()
    for _ in range(rounds):
        due = time.monotonic() + interval
        await round_()
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    return (cpu() - started_cpu) / (time.monotonic() - started) * 60


def specs(ports: list[int]) -> list[ProbeSpec]:
    found, errors = from_config(
        "bench", [OutsideProbe(url=f"http://127.0.0.1:{p}/healthz", service=f"s{i}")
                  for i, p in enumerate(ports)], ProbesConfig())
    assert not errors, errors
    return found


async def probe_rounds(ports: list[int], args: argparse.Namespace) -> list[tuple[str, float]]:
    config = ProbesConfig()
    limit = asyncio.Semaphore(config.concurrency)
    book = ProbeBook(config.grace_seconds)
    wanted = specs(ports)
    book.sync(wanted)
    sockets = NetnsSockets()

    def round_of(runner: ProbeRunner, namespace: str | None) -> Callable[[], Awaitable[None]]:
        async def one(spec: ProbeSpec) -> None:
            async with limit:
                result = await runner.run(spec, namespace, "bench")
            record = book.get(spec.key)
            assert record is not None
            record.record("run", None, result)
            if not result.ok:
                raise SystemExit(f"probe failed: {result.reason}")

        async def all_probes() -> None:
            await asyncio.gather(*(one(s) for s in wanted))
        return all_probes

    async def idle() -> None:
        return None

    rows = [("no probes (baseline)", await measure(idle, args.interval, args.rounds)),
            ("plain sockets", await measure(round_of(ProbeRunner(), None), args.interval,
                                            args.rounds)),
            ("in a namespace", await measure(round_of(ProbeRunner(sockets), HOME),
                                             args.interval, args.rounds))]
    sockets.close()
    return rows


async def thread_cost(count: int) -> float:
    """Milliseconds of wall time per socket made by the setns thread."""
    sockets = NetnsSockets()
    started = time.perf_counter()
    for _ in range(count):
        (await sockets.socket(HOME)).close()
    sockets.close()
    return (time.perf_counter() - started) / count * 1000


def nsenter_cost(count: int) -> float | None:
    """Milliseconds of wall time per ``nsenter --net=... true`` process."""
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        return None
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run([nsenter, f"--net=/proc/{os.getpid()}/ns/net", "true"], check=True)
    return (time.perf_counter() - started) / count * 1000


def main(argv: list[str] | None = None) -> int:
    """Serve the endpoints, probe them, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    queue: multiprocessing.Queue[list[int]] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(args.probes, queue), daemon=True)
    server.start()
    try:
        ports = queue.get(timeout=60)
        rows = asyncio.run(probe_rounds(ports, args))
        thread_ms, nsenter_ms = asyncio.run(thread_cost(200)), nsenter_cost(50)
    finally:
        server.terminate()
        server.join(10)
    base = rows[0][1]
    print(f"{args.probes} HTTP probes every {args.interval:g} s, {args.rounds} rounds "
          f"(concurrency {ProbesConfig().concurrency})")
    print(f"{'run':>22} {'cpu s/min':>10} {'% of a core':>12} {'ratio':>8}")
    for name, per_minute in rows:
        ratio = per_minute / base if base > 0 else float("inf")
        print(f"{name:>22} {per_minute:>10.3f} {per_minute / 60 * 100:>12.2f} {ratio:>8.1f}")
    print(f"socket in a namespace: setns thread {thread_ms:.3f} ms"
          + (f", nsenter process {nsenter_ms:.2f} ms ({nsenter_ms / thread_ms:.0f}x)"
             if nsenter_ms is not None else ", nsenter not installed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
