"""Wrong API tokens: 429 with Retry-After past the limit, one event per burst, and the right
token never held back."""

from __future__ import annotations

import httpx

from stackmedic.agent import Agent
from stackmedic.api.app import create_app
from stackmedic.api.throttle import TokenThrottle


def _refusal_events(agent: Agent) -> list[dict[str, object]]:
    from stackmedic.store.events import EventQuery

    query = EventQuery(None, "api-token-refused", None, None, None, 100, None)
    return list(agent.events.query(query))


async def test_wrong_tokens_are_throttled_per_client_and_logged_once(
    client: httpx.AsyncClient, offline_agent: Agent, operator: dict[str, str],
    reader: dict[str, str],
) -> None:
    attempts = offline_agent.settings.api.login_attempts
    wrong = {"Authorization": "Bearer not-the-token"}
    for _ in range(attempts):
        assert (await client.get("/api/deployments", headers=wrong)).status_code == 401
    for _ in range(40):
        refused = await client.post("/api/silences", headers=wrong, json={})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) in range(1, 62)
        assert "too many wrong API tokens" in refused.json()["detail"]
        # The right tokens from the same client are never held back.
        assert (await client.get("/api/deployments", headers=operator)).status_code == 200
        assert (await client.get("/api/events", headers=reader)).status_code == 200
    # No token at all is a mistake, not a guess: plain 401.
    assert (await client.get("/api/deployments")).status_code == 401
    rows = _refusal_events(offline_agent)
    assert len(rows) == 1, rows
    assert rows[0]["severity"] == "warning"
    assert "127.0.0.1" in str(rows[0]["message"])
    assert f"{attempts} wrong API tokens" in str(rows[0]["message"])

    # Another client is counted apart.
    other = httpx.ASGITransport(app=create_app(offline_agent), client=("192.0.2.7", 4000))
    async with httpx.AsyncClient(transport=other, base_url="http://agent") as elsewhere:
        assert (await elsewhere.get("/api/deployments", headers=wrong)).status_code == 401


def test_a_burst_is_recorded_once_and_a_new_one_after_a_quiet_window() -> None:
    now = [1000.0]
    recorded: list[tuple[str, int, int]] = []
    throttle = TokenThrottle(3, 60, lambda *event: recorded.append(event), lambda: now[0])
    answers = []
    for _ in range(200):  # one wrong token a second for 200 s, without pause
        answers.append(throttle.wrong_token("203.0.113.9"))
        now[0] += 1
    assert answers[:3] == [None, None, None]
    assert answers[3] == 58  # the first failure leaves the window in 57 s; rounded up
    assert all(a is not None for a in answers[4:60])
    assert recorded == [("203.0.113.9", 3, 58)]  # one continuous burst: one event
    assert throttle.wrong_token("198.51.100.1") is None  # others are counted apart
    now[0] += 61  # quiet for a whole window: the next refusal starts a new burst
    for _ in range(4):
        throttle.wrong_token("203.0.113.9")
    assert len(recorded) == 2
