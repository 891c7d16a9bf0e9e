"""How close before a daemon shutdown a person's stop is still told apart from it.

Run: `.venv/bin/python -m bench.bench_intent_gap [--trials 24] [--others 0 3] [--delays 0 1.5]`.

On a private Docker daemon, one deployment is stopped with `docker compose stop` while
`--others` more keep running, and the daemon gets SIGTERM a random 0-1.5 s after the
command began (so the engine's gap between the person's kill and the shutdown's spans
negative to positive values). The agent runs throughout. For each trial: the engine's gap
(the stop's kill to the daemon's first refusal of a connection, from the agent's
evidence), and whether the agent decided right (a stop that began before the shutdown is
intent), wrong, or uncertain.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.agent import AgentProcess, agent_config, merge  # noqa: E402
from support.compose import CommandFailed  # noqa: E402
from support.deployments import DeploymentFactory, service  # noqa: E402
from support.dockerd import PrivateDockerd  # noqa: E402
from support.images import ensure_busybox_image  # noqa: E402
from support.wait import wait_until  # noqa: E402


def decisions(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    """Intent decisions logged for one deployment, oldest first."""
    found = []
    for kind in ("intent-changed", "intent-ignored"):
        items = agent.api("GET", f"/api/events?kind={kind}&deployment={name}").json()["items"]
        for item in items:
            evidence = (item.get("data") or {}).get("evidence")
            if isinstance(evidence, list):
                found.extend(evidence)
            elif evidence:
                found.append(evidence)
    return found


def trial(agent: AgentProcess, daemon: PrivateDockerd, factory: DeploymentFactory,
          others: int, delay: float) -> tuple[float | None, str]:
    """One stop, one SIGTERM ``delay`` after the stop command began; (gap, verdict)."""
    person = factory.make(f"p{random.randrange(10**6)}", {"app": service("sleep 3600")})
    rest = [factory.make(f"o{random.randrange(10**6)}", {"app": service("sleep 3600")})
            for _ in range(others)]
    for deployment in (person, *rest):
        deployment.up()
        wait_until(lambda d=deployment: d.name in agent.api("GET", "/api/deployments").text,
                   30, message="listed")
    pid = daemon.pid
    assert pid is not None
    refused: list[float] = []

    def shutdown() -> None:
        os.kill(pid, signal.SIGTERM)
        refused.append(time.time())

    timer = threading.Timer(delay, shutdown)
    timer.start()
    with contextlib.suppress(CommandFailed):  # the daemon may refuse it already
        person.stop()
    timer.join()
    daemon.stop()
    daemon.start()
    found = wait_until(lambda: decisions(agent, person.name), 60, message="decided")
    mine = found[0]
    gap = refused[0] - mine["kill_at"] if mine.get("kill_at") else None
    if mine["uncertain"]:
        verdict = "uncertain"
    elif gap is None:
        verdict = "no-kill-seen"
    else:
        verdict = "right" if mine["intent"] == (gap > 0) else "wrong"
    for deployment in (person, *rest):
        deployment.down()
    return gap, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--others", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--delays", type=float, nargs=2, default=[0.0, 1.5],
                        help="SIGTERM this many seconds (uniform) after the stop command began")
    args = parser.parse_args()
    image = ensure_busybox_image()
    base = Path(tempfile.mkdtemp(prefix="smd-bench-"))
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load_image(image)
        factory = DeploymentFactory(root=base / "deployments", image=image,
                                    docker_host=daemon.host)
        factory.root.mkdir()
        config = agent_config(base / "data", factory.root, docker_host=daemon.host)
        agent = AgentProcess(merge(config, {"intent": {"stop_settle_seconds": 600}}),
                             base / "agent")
        agent.start()
        rows = []
        for n in range(args.trials):
            others = args.others[n % len(args.others)]
            gap, verdict = trial(agent, daemon, factory, others, random.uniform(*args.delays))
            rows.append((others, gap, verdict))
            print(f"others={others} gap={gap if gap is None else f'{gap:+.3f}'}s {verdict}",
                  flush=True)
        agent.close()
        right = [g for _, g, v in rows if v == "right" and g is not None and g > 0]
        wrong = [g for _, g, v in rows if v == "wrong"]
        print(f"\n{len(rows)} trials: {len(right)} right after the stop, "
              f"{sum(v == 'uncertain' for _, _, v in rows)} uncertain, {len(wrong)} wrong"
              + (f"; smallest positive gap decided right {min(right):.3f}s" if right else "")
              + (f"; wrong at {sorted(round(g, 3) for g in wrong if g is not None)}"
                 if wrong else ""))
    finally:
        daemon.teardown()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
