"""Dashboard logins: too many failures from one client get 429 and land in the event log."""

from __future__ import annotations

import httpx

from stackmedic.agent import Agent


async def _try(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/login")
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    return await client.post("/login", data={"token": token, "nonce": nonce, "next": "/"})


async def test_failed_logins_are_throttled_per_client_and_logged(
    client: httpx.AsyncClient, offline_agent: Agent
) -> None:
    attempts = offline_agent.settings.api.login_attempts
    for _ in range(attempts):
        assert (await _try(client, "guess")).status_code == 401
    throttled = await _try(client, "guess")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) in range(1, 62)
    assert "Too many failed logins" in throttled.text
    # Even the right token waits: the throttle does not tell guesses apart.
    assert (await _try(client, offline_agent.token)).status_code == 429
    rows = _events(offline_agent)
    assert len(rows) == attempts
    assert "127.0.0.1" in str(rows[0]["message"])
    assert rows[0]["severity"] == "warning"


async def test_read_only_login_cannot_post_actions(
    client: httpx.AsyncClient, offline_agent: Agent, reader: dict[str, str]
) -> None:
    token = reader["Authorization"].removeprefix("Bearer ")
    landed = await _try(client, token)
    assert landed.status_code == 303
    page = await client.get("/notifications")
    assert page.status_code == 200
    assert "read-only" in page.text and "Send test" not in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = await client.post("/notifications/test", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert "only look" in refused.text


def _events(agent: Agent) -> list[dict[str, object]]:
    from stackmedic.store.events import EventQuery

    return list(agent.events.query(EventQuery(None, "login-failed", None, None, None, 100, None)))
