"""Pure parts of the dashboard: charts, the cross-site check, sessions, redirects, formats."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import pytest

from stackmedic.engine.client import EngineStatus
from stackmedic.web.charts import Chart, Line, byte_unit, nice_ceiling, render, segments, thin
from stackmedic.web.csrf import cross_site_reason
from stackmedic.web.formatting import ago, size
from stackmedic.web.guard import safe_next
from stackmedic.web.sessions import SessionStore
from stackmedic.web.views.overview import banners

HOST = "127.0.0.1:8477"


def chart(lines: list[Line]) -> str:
    return str(render(Chart("cpu", "CPU <test>", lines, 0, 100, "%", 15,
                            lambda ts: f"t{ts:.0f}")))


def test_a_chart_draws_each_unbroken_run_as_a_polyline_with_its_point_count() -> None:
    points = [(float(t), float(t % 7)) for t in range(0, 40, 5)] + [(90.0, 3.0), (95.0, 4.0)]
    svg = chart([Line("web-1", points), Line("db-1", [])])
    counts = [int(n) for n in re.findall(r'<polyline[^>]*data-points="(\d+)"', svg)]
    assert counts == [8, 2]  # the 50 s gap breaks the line
    assert 'data-series="web-1"' in svg
    assert "CPU &lt;test&gt;" in svg and "<test>" not in svg
    assert 'role="img"' in svg and "peak 6 %" in svg
    first = re.search(r' points="([^"]+)"', svg)
    assert first is not None and len(first.group(1).split()) == 8


def test_an_empty_chart_says_so() -> None:
    svg = chart([Line("web-1", [])])
    assert "No samples in this period yet" in svg
    assert "<polyline" not in svg


def test_chart_helpers() -> None:
    assert [nice_ceiling(v) for v in (0.2, 3, 7, 12, 260)] == [1, 5, 10, 20, 500]
    assert byte_unit(500) == (1.0, "B") and byte_unit(3 * 1024**2)[1] == "MiB"
    assert len(thin([(float(t), 1.0) for t in range(1000)], 0, 1000, 100)) == 100
    assert len(segments([(0, 1), (1, 1), (10, 1)], 5)) == 2


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"origin": f"http://{HOST}"}, False),
        ({"referer": f"http://{HOST}/deployments/x"}, False),
        ({"sec-fetch-site": "same-origin", "origin": f"http://{HOST}"}, False),
        ({}, False),  # not a browser: the CSRF token still has to match
        ({"origin": "http://evil.test"}, True),
        ({"origin": "null"}, True),
        ({"origin": f"http://{HOST}.evil.test"}, True),
        ({"referer": "https://evil.test/x"}, True),
        ({"sec-fetch-site": "cross-site"}, True),
        ({"sec-fetch-site": "same-site", "origin": f"http://{HOST}"}, True),
    ],
)
def test_cross_site_posts_are_recognised(headers: dict[str, str], refused: bool) -> None:
    assert (cross_site_reason({"host": HOST, **headers}) is not None) is refused


def test_sessions_end_on_logout_idle_and_lifetime_and_are_bounded() -> None:
    now = [1000.0]
    store = SessionStore(lifetime=100, idle=30, limit=3, clock=lambda: now[0])
    first = store.create()
    assert store.get(first.id) is first and first.csrf_matches(first.csrf)
    assert not first.csrf_matches("forged") and not first.csrf_matches(None)
    now[0] += 31
    assert store.get(first.id) is None
    second = store.create()
    for _ in range(4):
        now[0] += 20
        assert store.get(second.id) is second
    now[0] += 25
    assert store.get(second.id) is None  # past its lifetime although in use
    kept = [store.create() for _ in range(4)]
    assert len(store) == 3 and store.get(kept[0].id) is None
    store.end(kept[-1].id)
    assert store.get(kept[-1].id) is None


def test_only_local_paths_are_followed_after_login() -> None:
    assert safe_next("/deployments/x?range=24h") == "/deployments/x?range=24h"
    for hostile in ("https://evil.test/", "//evil.test/", "/\\evil.test", "", None):
        assert safe_next(hostile) == "/"


def test_formats() -> None:
    assert ago(100.0, now=100.0) == "just now"
    assert ago(100.0, now=400.0) == "5 min ago"
    assert ago(None) == "—"
    assert size(512) == "512 B" and size(3.5 * 1024**3) == "3.5 GiB"


def test_banners_name_an_unreachable_docker_and_a_recovery_that_gave_up() -> None:
    connected = asyncio.Event()
    agent: Any = SimpleNamespace(
        engine=SimpleNamespace(status=EngineStatus(reachable=False, since=1000.0,
                                                   error="connection refused")),
        stream=SimpleNamespace(connected=connected),
        compose_error=None,
    )
    recovery = {"shop": {"phase": "gave-up", "gave_up_reason": "image unavailable"},
                "blog": {"phase": "idle"}}
    found = banners(agent, recovery)
    assert [b["tone"] for b in found] == ["bad", "bad"]
    assert "Docker is unreachable" in found[0]["text"]
    assert "connection refused" in found[0]["text"]
    assert "Recovery of shop gave up: image unavailable" in found[1]["text"]
    assert found[1]["link"] == "/deployments/shop"
    agent.engine.status = EngineStatus(reachable=True, since=1000.0)
    connected.set()
    assert banners(agent, {}) == []


def test_a_recreated_container_is_one_legend_entry() -> None:
    from stackmedic.web.views.charts import lines_by_name

    series = {"containers": [
        {"name": "site-web-1", "service": "web", "points": [[10, 5.0], [15, 6.0]]},
        {"name": "site-web-1", "service": "web", "points": [[60, 7.0]]},
        {"name": "site-web-1", "service": "web", "points": [[30, None], [40, 8.0]]},
        # The old container, renamed by Compose while it recreates the service.
        {"name": "0f3c2a9d81be_site-web-1", "service": "web", "points": [[50, 9.0]]},
        {"name": "site-db-1", "service": "db", "points": [[10, 1.0]]},
        {"name": "site-web-2", "service": "web", "points": [[10, 2.0]]},
    ]}
    lines = lines_by_name(series, 1, 1.0)
    assert [line.label for line in lines] == ["site-web-1", "site-db-1", "site-web-2"]
    assert lines[0].points == [(10.0, 5.0), (15.0, 6.0), (40.0, 8.0), (50.0, 9.0),
                               (60.0, 7.0)]
    svg = chart(lines)
    assert svg.count("site-web-1</li>") == 1


def test_absolute_times_name_their_zone() -> None:
    from stackmedic.web.formatting import when

    shown = when(1_700_000_000.0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", shown), shown
    assert shown.split()[-1] == time_zone_name(1_700_000_000.0)


def time_zone_name(ts: float) -> str:
    """The local zone's abbreviation at ``ts``."""
    import time

    return time.strftime("%Z", time.localtime(ts))


@pytest.mark.parametrize(("desired", "observed", "offered"), [
    ("running", "running", ["diagnose", "restart", "stop"]),
    ("running", "partial", ["diagnose", "restart", "start", "stop"]),
    ("running", "stopped", ["diagnose", "start", "stop"]),  # stop: "leave it stopped"
    ("stopped", "stopped", ["diagnose", "start"]),
    ("", "stopped", ["diagnose", "start"]),  # first seen stopped, nothing recorded
    ("stopped", "running", ["diagnose", "restart", "start", "stop"]),  # started by hand
    ("running", "invalid", ["diagnose"]),
    ("running", "unknown", ["diagnose", "restart", "start", "stop"]),
])
def test_actions_match_the_state(desired: str, observed: str, offered: list[str]) -> None:
    from stackmedic.web.views.deployment import offered_actions

    assert offered_actions(desired, observed) == offered


def test_disks_are_named_by_what_they_hold() -> None:
    from stackmedic.web.views.overview import host_view

    disk = {"path": "/var/lib/docker", "percent": 41.0, "used_bytes": 41, "total_bytes": 100}
    view = host_view({"cpu_percent": 3.0, "cpu_count": 2, "memory_percent": 20.0,
                      "disks": [{**disk, "label": "data", "path": "data"},
                                {**disk, "label": "docker"}, {**disk, "label": "backups"}]})
    assert view is not None
    assert [d["name"] for d in view["disks"]] == [
        "holding the agent's data", "holding Docker's images and volumes", "backups"]
    assert view["disks"][0]["path"].startswith("/")
