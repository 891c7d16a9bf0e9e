"""Podman's events told in Docker's words: names, exit codes, and stops told from crashes.

The event shapes are those Podman 4.3's compat ``/events`` sent in this machine's tests.
"""

from __future__ import annotations

from typing import Any

from stackmedic.engine.podman import PodmanEvents, translate
from support.wait import async_wait_until

CONTAINER = "c0ffee"


def event(action: str, at: int, **attributes: str) -> dict[str, Any]:
    return {"Type": "container", "Action": action, "status": action, "id": CONTAINER,
            "Actor": {"ID": CONTAINER, "Attributes": {"name": "web-1", "containerExitCode": "0",
                                                       **attributes}},
            "timeNano": at, "time": at // 1_000_000_000}


class Sink:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, item: dict[str, Any]) -> None:
        self.seen.append(item)

    def actions(self) -> list[str]:
        return [str(e["Action"]) for e in self.seen]


def adapter(sink: Sink, *, podman: bool = True, hold: float = 5.0) -> PodmanEvents:
    return PodmanEvents(sink, active=lambda: podman, hold_seconds=hold)


def test_names_and_exit_codes_are_dockers() -> None:
    assert translate(event("remove", 1))["Action"] == "destroy"
    died = translate(event("died", 1, containerExitCode="3"))
    assert died["Action"] == "die"
    assert died["Actor"]["Attributes"]["exitCode"] == "3"
    kept = translate(event("die", 1, containerExitCode="0", exitCode="137"))
    assert kept["Actor"]["Attributes"]["exitCode"] == "137"


async def test_a_stop_is_told_as_kill_die_stop() -> None:
    sink = Sink()
    events = adapter(sink)
    await events.on_event(event("die", 100, exitCode="137", containerExitCode="137"))
    await events.on_event(event("cleanup", 200))
    assert sink.seen == []  # held until it is clear whether a stop caused it
    await events.on_event(event("cleanup", 300))
    assert sink.actions() == ["kill", "die", "cleanup", "cleanup", "stop"]
    kill, die, stop = sink.seen[0], sink.seen[1], sink.seen[-1]
    assert kill["Actor"]["Attributes"]["signal"] == "15"
    assert int(kill["timeNano"]) < int(die["timeNano"]) <= int(stop["timeNano"])
    assert die["Actor"]["Attributes"]["exitCode"] == "137"
    assert events.stops_inferred == 1


async def test_a_crash_is_told_as_it_came_once_the_hold_ends() -> None:
    sink = Sink()
    events = adapter(sink, hold=0.2)
    await events.on_event(event("die", 100, exitCode="137"))
    await events.on_event(event("cleanup", 200))
    await async_wait_until(lambda: sink.actions() == ["die", "cleanup"], 10,
                           message="the crash handed on")
    assert events.stops_inferred == 0


async def test_a_restart_after_a_crash_releases_at_once_and_in_order() -> None:
    sink = Sink()
    events = adapter(sink)
    await events.on_event(event("die", 100, exitCode="1"))
    await events.on_event(event("cleanup", 200))
    await events.on_event(event("init", 300))
    await events.on_event(event("start", 400))
    assert sink.actions() == ["die", "cleanup", "init", "start"]


async def test_an_engine_reporting_stop_itself_is_believed() -> None:
    sink = Sink()
    events = adapter(sink)
    await events.on_event(event("kill", 50, signal="15"))
    await events.on_event(event("die", 100, exitCode="143"))
    await events.on_event(event("cleanup", 150))
    await events.on_event(event("cleanup", 160))
    await events.on_event(event("stop", 200))
    assert sink.actions()[-1] == "stop"
    sink.seen.clear()
    await events.on_event(event("die", 300, exitCode="0"))
    assert sink.actions() == ["die"]  # no more holding, no second stop made up


async def test_docker_events_pass_untouched_and_flush_hands_on_what_is_held() -> None:
    sink = Sink()
    docker = adapter(sink, podman=False)
    original = event("die", 100, exitCode="3")
    await docker.on_event(original)
    assert sink.seen == [original]
    sink.seen.clear()
    podman = adapter(sink)
    await podman.on_event(event("die", 100, exitCode="3"))
    await podman.flush()
    assert sink.actions() == ["die"]
    await podman.close()
