"""How long after a container's ``die`` Podman's events tell a stop from a crash.

Run: `.venv/bin/python -m bench.bench_podman_stops [--trials 10]`.

On a private podman service (the test kit's), each trial stops one running container with
`docker stop` and kills another's process from the host (a crash), and reads the compat
``/events`` stream: for a stop, the time from ``die`` to the second ``cleanup`` (what
stackmedic waits for before it calls the exit a stop); for a crash, how many ``cleanup``
events follow the ``die`` within 5 s (one is expected: conmon's). Also the cost of one
healthcheck run through the libpod API, as stackmedic runs them where no timer does.
Prints figures against stackmedic's hold (``engine.podman.HOLD_SECONDS``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from stackmedic.engine.podman import HOLD_SECONDS  # noqa: E402
from support.images import busybox_image_name  # noqa: E402
from support.podman import PrivatePodman, podman_unavailable  # noqa: E402
from support.wait import wait_until  # noqa: E402


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def record(path: str, events: list[dict[str, Any]]) -> None:
    conn = UnixConnection(path, timeout=3600)
    conn.request("GET", "/events")
    response = conn.getresponse()
    while line := response.readline():
        events.append(json.loads(line))


def trial(service: PrivatePodman, events: list[dict[str, Any]], n: int) -> tuple[float, int]:
    image = busybox_image_name()
    stopped, crashed = f"stop{n}", f"crash{n}"
    for name in (stopped, crashed):
        service.podman("run", "-d", "--name", name, image, "sleep 3600")
    sid = service.podman("inspect", "--format", "{{.Id}}", stopped).stdout.decode().strip()
    cid = service.podman("inspect", "--format", "{{.Id}}", crashed).stdout.decode().strip()
    service.docker("stop", "--time", "1", stopped)
    pid = int(service.podman("inspect", "--format", "{{.State.Pid}}", crashed).stdout)
    os.kill(pid, signal.SIGKILL)

    def of(container: str, action: str) -> list[int]:
        return [int(e["timeNano"]) for e in list(events)
                if e.get("Actor", {}).get("ID") == container and e.get("Action") == action]

    wait_until(lambda: len(of(sid, "cleanup")) >= 2, 30, message="the stop's two cleanups")
    wait_until(lambda: of(cid, "cleanup"), 30, message="the crash's cleanup")
    time.sleep(5)  # a measurement: count what else arrives in the hold window and beyond
    gap = (of(sid, "cleanup")[1] - of(sid, "die")[0]) / 1e9
    return gap, len(of(cid, "cleanup"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    reason = podman_unavailable()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    service = PrivatePodman()
    try:
        service.start()
        service.load_image(busybox_image_name())
        events: list[dict[str, Any]] = []
        threading.Thread(target=record, args=(str(service.socket_path), events),
                         daemon=True).start()
        gaps, crash_cleanups = [], []
        for n in range(args.trials):
            gap, cleanups = trial(service, events, n)
            gaps.append(gap)
            crash_cleanups.append(cleanups)
        service.podman("run", "-d", "--name", "hc", "--health-cmd", "true",
                       busybox_image_name(), "sleep 3600")
        costs = []
        for _ in range(20):
            conn = UnixConnection(str(service.socket_path))
            began = time.perf_counter()
            conn.request("GET", "/v4.0.0/libpod/containers/hc/healthcheck")
            conn.getresponse().read()
            costs.append(time.perf_counter() - began)
            conn.close()
        print(f"stop: die -> second cleanup, {len(gaps)} trials: median "
              f"{statistics.median(gaps):.3f} s, max {max(gaps):.3f} s "
              f"(hold {HOLD_SECONDS:g} s, max/hold {max(gaps) / HOLD_SECONDS:.2f})")
        print(f"crash: cleanups after die within 5 s: {sorted(set(crash_cleanups))}")
        print(f"healthcheck through the libpod API: median {statistics.median(costs) * 1000:.0f}"
              f" ms, max {max(costs) * 1000:.0f} ms wall per run")
    finally:
        service.teardown()


if __name__ == "__main__":
    main()
