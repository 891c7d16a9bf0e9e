"""Triage's budget and cache, with the endpoint doubled by httpx.MockTransport."""

from __future__ import annotations

import json

import httpx

from stackmedic.logwatch.config import TriageConfig
from stackmedic.logwatch.tally import Fingerprint
from stackmedic.logwatch.triage import LogTriage
from stackmedic.recovery.config import LlmConfig

VERDICT = {"summary": "s", "cause": "c", "next_step": "n", "severity": "warning",
           "confidence": 0.4}


def answer(request: httpx.Request) -> httpx.Response:
    content = json.dumps(VERDICT)
    return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})


def item(key: str, triage: dict[str, object] | None = None) -> Fingerprint:
    return Fingerprint("site", key, "db-down", "web", "warning", "ERROR x", 3, 0.0, 0.0, triage)


async def test_the_daily_budget_holds_and_a_fingerprint_verdict_is_reused() -> None:
    calls: list[httpx.Request] = []

    def counted(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(request)

    now = [1000.0]
    triage = LogTriage(TriageConfig(enabled=True, max_calls_per_day=2),
                       LlmConfig.model_validate({"url": "http://llm.invalid/v1", "model": "m"}),
                       transport=httpx.MockTransport(counted), clock=lambda: now[0])
    try:
        first, note = await triage.triage(item("a"), ["ERROR x"])
        assert first is not None and first["summary"] == "s" and note == ""
        again, _ = await triage.triage(item("a", first), [])
        assert again is not None and again["cached"] is True and len(calls) == 1
        await triage.triage(item("b"), [])
        spent, note = await triage.triage(item("c"), [])
        assert spent is None and "daily budget of 2" in note and len(calls) == 2
        now[0] += 86401
        fresh, _ = await triage.triage(item("c"), [])
        assert fresh is not None and len(calls) == 3
    finally:
        await triage.aclose()


async def test_an_error_status_is_no_verdict_with_the_status_named() -> None:
    triage = LogTriage(TriageConfig(enabled=True),
                       LlmConfig.model_validate({"url": "http://llm.invalid/v1", "model": "m"}),
                       transport=httpx.MockTransport(lambda r: httpx.Response(503, text="busy")))
    try:
        verdict, note = await triage.triage(item("a"), [])
        assert verdict is None and "HTTP 503" in note
    finally:
        await triage.aclose()
