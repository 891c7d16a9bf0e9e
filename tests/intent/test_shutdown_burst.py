"""What an orderly daemon shutdown looks like on the real engine (the facts intent relies on).

The figures written in stackmedic/intent/burst.py come from this test (run with ``-s``):
the daemon stops accepting connections before it stops any container, every running
container is stopped in one burst, and the event stream ends after the burst.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest

from support.dockerd import EventRecorder, PrivateDockerd, ping_unix
from support.wait import wait_until

pytestmark = pytest.mark.docker


@dataclass
class Prober:
    """Opens a fresh connection to the daemon in a loop; remembers the last that answered."""

    daemon: PrivateDockerd
    last_answer: float = 0.0
    first_refusal: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.done.is_set() and self.first_refusal is None:
            before = time.time()
            if ping_unix(self.daemon.socket_path, timeout=1):
                self.last_answer = before
            else:
                self.first_refusal = before


def _container_times(events: list[dict[str, object]], action: str) -> list[float]:
    return sorted(int(str(e["timeNano"])) / 1e9 for e in events
                  if e.get("Type") == "container" and e.get("Action") == action)


@pytest.mark.parametrize("count", [1, 4])
def test_shutdown_stops_every_container_after_refusing_connections(
    private_dockerd: PrivateDockerd, busybox_image: str, count: int
) -> None:
    for n in range(count):
        private_dockerd.docker("run", "-d", "--init", "--name", f"b{n}", busybox_image,
                               "sleep 3600")
    person = private_dockerd.docker("run", "-d", "--init", "--name", "person", busybox_image,
                                    "sleep 3600").stdout.strip()
    recorder = EventRecorder(private_dockerd.host).start()
    prober = Prober(private_dockerd)
    thread = threading.Thread(target=prober.run, daemon=True)
    try:
        private_dockerd.docker("stop", person)  # a person's stop, then the shutdown
        pid = private_dockerd.pid
        assert pid is not None
        thread.start()
        recorder.wait_for(lambda ev: _container_times(ev, "stop"), 30, "the person's stop")
        wait_until(lambda: prober.last_answer > 0, 30, message="the prober's first answer")
        sigterm = time.time()
        os.kill(pid, signal.SIGTERM)
        assert recorder.ended.wait(60), "the event stream ended"
        ended = time.time()
    finally:
        prober.done.set()
        thread.join(10)
        recorder.close()
    events = recorder.snapshot()
    kills = _container_times(events, "kill")
    stops = _container_times(events, "stop")
    person_kill, burst = kills[0], kills[1:]
    assert len(burst) == count and len(stops) == count + 1, recorder.actions()
    assert prober.first_refusal is not None
    # The facts the rule stands on: connections are refused before the burst begins, the
    # person's stop began while they were accepted, and the stream ends after the burst.
    assert prober.last_answer <= burst[0]
    assert person_kill <= prober.last_answer
    assert stops[-1] <= ended
    print(
        f"\nburst of {count}: refused {prober.first_refusal - sigterm:.3f}s after SIGTERM, "
        f"first kill {burst[0] - sigterm:.3f}s after SIGTERM, kill spread "
        f"{burst[-1] - burst[0]:.3f}s, last stop {stops[-1] - burst[0]:.3f}s after the first "
        f"kill, stream end {ended - stops[-1]:.3f}s after the last stop"
    )
