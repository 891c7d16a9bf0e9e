"""Requests are judged at the edge: token before body, bodies capped, every input checked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from stackmedic.agent import Agent
from stackmedic.types import EventKind, Severity

BIG = 2**63  # one past SQLite's largest integer


async def test_malformed_body_without_token_gets_401_not_422(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/silences", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_body_over_the_limit_gets_413_before_it_is_read(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    sent = 0

    async def hundred_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100 * 16):
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    response = await client.post("/api/silences", content=hundred_megabytes(),
                                 headers={**operator, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "api.max_body_bytes" in response.json()["detail"]
    assert sent <= 3 * 64 * 1024  # the reading stopped right after the limit


async def test_declared_length_over_the_limit_gets_413_at_once(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        sent += 1
        yield b"{}"

    response = await client.post(
        "/api/silences", content=body(),
        headers={**operator, "Content-Type": "application/json",
                 "Content-Length": str(100 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert sent == 0


async def test_login_form_is_capped_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"token": "x" * (100 * 1024)})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"/api/silences/{BIG}"),
        ("GET", f"/api/recoveries/{BIG}"),
        ("GET", f"/api/recoveries?before_id={BIG}"),
        ("GET", f"/api/events?before_id={BIG}"),
        ("GET", f"/api/deployments/site/health/history?before={BIG}"),
        ("GET", "/api/notifications?offset=99999999999999999999"),
    ],
)
async def test_ids_past_sqlite_range_get_422(
    client: httpx.AsyncClient, operator: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=operator)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["problems"][0]["where"].startswith(("path.", "query."))
    assert "less than or equal" in body["detail"]


@pytest.mark.parametrize("value", ["inf", "-inf", "1e999", "NaN"])
@pytest.mark.parametrize(
    "path", ["/api/events?since={}", "/api/events?until={}",
             "/api/deployments/site/resources?since={}"],
)
async def test_numbers_must_be_finite(
    client: httpx.AsyncClient, operator: dict[str, str], path: str, value: str
) -> None:
    response = await client.get(path.format(value), headers=operator)
    assert response.status_code == 422, response.text
    assert "finite" in response.json()["detail"]


async def test_silence_hours_must_be_finite(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await client.post(
        "/api/silences", headers={**operator, "Content-Type": "application/json"},
        content=b'{"deployment": "*", "hours": NaN}',
    )
    assert response.status_code == 422
    assert "finite" in response.json()["detail"] or "JSON" in response.json()["detail"]


async def test_silences_follow_the_name_rules_and_need_a_deployment(
    client: httpx.AsyncClient, operator: dict[str, str], offline_agent: Agent
) -> None:
    await offline_agent.refresh_catalog()
    bad = await client.post("/api/silences", headers=operator,
                            json={"deployment": "a..b", "hours": 1})
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["where"] == "body.deployment"
    unknown = await client.post("/api/silences", headers=operator,
                                json={"deployment": "no-such-site", "hours": 1})
    assert unknown.status_code == 404
    assert "no-such-site" in unknown.json()["detail"]
    known = await client.post("/api/silences", headers=operator,
                              json={"deployment": "site", "hours": 1})
    assert known.status_code == 201, known.text
    everything = await client.post("/api/silences", headers=operator,
                                   json={"deployment": "*", "hours": 1})
    assert everything.status_code == 201


async def test_undeclared_method_on_a_deployment_path_gets_405(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    response = await client.put("/api/deployments/site", headers=operator)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_read_only_token_reads_but_cannot_act(
    client: httpx.AsyncClient, reader: dict[str, str], operator: dict[str, str]
) -> None:
    assert reader != operator
    assert (await client.get("/api/deployments", headers=reader)).status_code == 200
    for method, path in (("POST", "/api/deployments/site/stop"), ("POST", "/api/silences"),
                         ("DELETE", "/api/silences/1"), ("POST", "/api/notifications/test")):
        response = await client.request(method, path, headers=reader, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "read" in response.json()["detail"]


async def test_allow_lists_every_method_of_a_path(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    options = await client.options("/api/silences", headers=operator)
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, HEAD, POST"
    put = await client.put("/api/silences", headers=operator)
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, HEAD, POST"


async def test_schema_documents_what_the_api_answers(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    invalid = schema["components"]["schemas"]["HTTPValidationError"]
    assert set(invalid["required"]) == {"detail", "problems"}
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    detail = schema["paths"]["/api/deployments/{name}"]["get"]
    name = next(p for p in detail["parameters"] if p["name"] == "name")
    assert name["schema"]["pattern"] and name["schema"]["maxLength"] == 64
    assert {"401", "404", "422", "429"} <= set(detail["responses"])
    stop = schema["paths"]["/api/deployments/{name}/stop"]["post"]["responses"]
    assert {"401", "403", "404", "502", "503"} <= set(stop)


async def test_docs_and_redoc_load_their_assets_from_the_agent(
    client: httpx.AsyncClient,
) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "://" not in html  # nothing from a CDN
        assets = [part.split('"')[0] for part in html.split('src="')[1:]]
        assets += [part.split('"')[0] for part in html.split('href="')[1:]
                   if part.split('"')[0].endswith(".css")]
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert (await client.get(asset)).status_code == 200, asset


async def test_unknown_dashboard_paths_get_a_page_and_api_paths_json(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    page = await client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text
    api = await client.get("/api/no-such-thing", headers=operator)
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}


async def test_event_filters_take_only_known_kinds_and_severities(
    offline_agent: Agent, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    offline_agent.events.record(EventKind.LOGIN_FAILED, "one", severity=Severity.WARNING)
    offline_agent.events.record(EventKind.ACTION, "two")
    response = await client.get("/api/events?kind=login-failed", headers=operator)
    assert response.status_code == 200, response.text
    assert [e["message"] for e in response.json()["items"]] == ["one"]
    response = await client.get("/api/events?severity=info", headers=operator)
    assert [e["message"] for e in response.json()["items"]] == ["two"]

    response = await client.get("/api/events?kind=login-fail", headers=operator)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "query.kind" in detail and "'login-fail'" in detail
    assert all(kind in detail for kind in EventKind)  # every known kind, named
    response = await client.get("/api/events?severity=loud", headers=operator)
    assert response.status_code == 422, response.text
    assert "'loud'" in response.json()["detail"]
    assert "info, warning, critical" in response.json()["detail"]
