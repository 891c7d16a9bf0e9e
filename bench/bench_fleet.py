"""A fleet's figures: scrape cost of an agent and how fast a crash on one host is seen and told.

Run: `.venv/bin/python -m bench.bench_fleet [--rounds 1]` (more than two rounds within ten
minutes meet flap damping, which holds the notification back on purpose).

Starts the stack of the fleet tests (three private Docker daemons as hosts h1-h3, an agent
each, Prometheus scraping every second with the shipped rules, two clustered
Alertmanagers, a webhook receiver), then kills both services of a deployment on h2
`--rounds` times and prints, per round, seconds from the kill until: Prometheus holds the
ill verdict with host="h2", the receiver gets the one firing notification, the services run
again (the agent's recovery), the receiver gets the resolved notification. Baseline: the
shipped Prometheus rule for the same problem (StackmedicDeploymentDown) waits `for: 5m`.
Then, per agent: scrape duration and samples per scrape, and the agent's CPU while being
scraped every second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fleet.stack import Fleet, running_fleet  # noqa: E402
from support.compose import run_docker  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402
from support.wait import wait_until  # noqa: E402

RULE_FOR_SECONDS = 300


def statuses(fleet: Fleet) -> list[str]:
    """Status of each notification received so far."""
    return [r.json()["status"] for r in fleet.receiver.received()]


def crash_round(fleet: Fleet) -> dict[str, float]:
    """Kill h2's shop and time what follows."""
    h2 = fleet.hosts["h2"]
    shop = h2.extra["shop"]
    prom = fleet.prometheus
    before = len(fleet.receiver.received())
    ill = (f'stackmedic_deployment_verdict{{host="h2",deployment="{shop.name}",'
           'verdict=~"down|degraded"} == 1')
    wait_until(lambda: not prom.query(ill) and shop.states() == {"web": "running",
                                                                 "worker": "running"},
               120, interval=0.2, message="shop healthy before the round")
    start = time.monotonic()
    run_docker("kill", *shop.container_ids(), docker_host=h2.daemon.host)
    figures: dict[str, float] = {}

    def seen(name: str, predicate: Callable[[], object]) -> None:
        wait_until(predicate, 180, interval=0.1, message=name)
        figures[name] = time.monotonic() - start

    seen("ill in Prometheus", lambda: prom.query(ill))
    seen("firing at receiver", lambda: "firing" in statuses(fleet)[before:])
    seen("running again", lambda: shop.states() == {"web": "running", "worker": "running"})
    seen("resolved at receiver", lambda: "resolved" in statuses(fleet)[before:])
    return figures


def scrape_figures(fleet: Fleet) -> None:
    """Per agent: scrape duration, samples per scrape and CPU while scraped every second."""
    prom = fleet.prometheus
    wait_until(lambda: prom.query('rate(process_cpu_seconds_total{job="stackmedic"}[1m])'),
               90, interval=0.5, message="a minute of agent CPU figures")
    rows = {
        "scrape s (avg 1m)": 'avg_over_time(scrape_duration_seconds{job="stackmedic"}[1m])',
        "samples/scrape": 'scrape_samples_scraped{job="stackmedic"}',
        "agent CPU % (1m)": '100 * rate(process_cpu_seconds_total{job="stackmedic"}[1m])',
        "agent RSS MB": 'process_resident_memory_bytes{job="stackmedic"} / 1e6',
        "containers": 'count by (host) (container_last_seen{job="stackmedic"})',
    }
    print(f"{'host':6}" + "".join(f"{name:>20}" for name in rows))
    by_host: dict[str, dict[str, float]] = {}
    for name, promql in rows.items():
        for sample in prom.query(promql):
            by_host.setdefault(sample["metric"]["host"], {})[name] = float(sample["value"][1])
    for host in sorted(by_host):
        print(f"{host:6}" + "".join(f"{by_host[host].get(n, float('nan')):>20.4g}" for n in rows))


def main() -> int:
    """Start the fleet, run the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    image = ensure_busybox_image()
    with tempfile.TemporaryDirectory(prefix="smfleet-") as folder:
        began = time.monotonic()
        with running_fleet(Path(folder), image) as fleet:
            print(f"stack up (3 daemons, 3 agents, Prometheus, 2 Alertmanagers): "
                  f"{time.monotonic() - began:.1f} s")
            names = ["ill in Prometheus", "firing at receiver", "running again",
                     "resolved at receiver"]
            print(f"{'round':6}" + "".join(f"{n:>22}" for n in names))
            for number in range(1, args.rounds + 1):
                figures = crash_round(fleet)
                print(f"{number:<6}" + "".join(f"{figures[n]:>21.1f}s" for n in names))
                told = figures["firing at receiver"]
                print(f"{'':6}told {RULE_FOR_SECONDS / told:.0f}x sooner than the rule's "
                      f"for: {RULE_FOR_SECONDS}s baseline")
            scrape_figures(fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
