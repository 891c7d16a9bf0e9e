"""The LLM adviser against a real chat-completions endpoint on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from recovery_llm.conftest import API_KEY, AdviserFactory, FakeClock
from stackmedic.recovery.llm import LlmAdviser, LlmOutcome
from stackmedic.recovery.suggestions import ServiceAction, Suggestion
from stackmedic.redact import MASK
from support.chat_server import ChatServer, closed_port_url

SERVICES = {"web", "db"}
NETWORKS = {"proxy"}

DB_PASSWORD = "pg-Hq83mZt2"
MAIL_TOKEN = "mailtok-77Lxq"
URL_PASSWORD = "urlpw-Ak29"
LOG_SECRET = "logsecret-Jd04"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def evidence(**extra: Any) -> dict[str, Any]:
    """Evidence shaped like the recovery service's, with secrets planted in it."""
    return {
        "deployment": "shop",
        "verdict": "down",
        "reason": "web exited with code 1",
        "services": {
            "web": {
                "status": "exited",
                "exit_code": 1,
                "env": [f"DATABASE_PASSWORD={DB_PASSWORD}", f"MAIL_TOKEN={MAIL_TOKEN}", "DEBUG"],
                "log_tail": [
                    f"connecting to postgres://shop:{URL_PASSWORD}@db:5432/shop",
                    f"auth failed, secret={LOG_SECRET}",
                    f"Authorization: Bearer {JWT}",
                    "fatal: could not connect",
                ],
            },
            "db": {"status": "running", "exit_code": None},
        },
        "missing_networks": [],
        **extra,
    }


def reply(*suggestions: dict[str, Any], text: str = "web cannot reach its database.") -> str:
    """An assistant answer: diagnosis text plus a suggestions block."""
    return f"{text}\n\n```suggestions\n{json.dumps(list(suggestions), indent=2)}\n```\n"


RESTART_WEB = {
    "kind": "service_action",
    "service": "web",
    "action": "restart",
    "title": "Restart web",
    "reason": "it exited after a failed connection",
}


async def advise(adviser: LlmAdviser, **extra: Any) -> Any:
    """Ask with the standard evidence, services and networks."""
    return await adviser.advise(evidence(**extra), services=SERVICES, networks=NETWORKS)


async def test_allowed_suggestion_is_returned(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply(RESTART_WEB)
    advice = await advise(make_adviser())

    assert advice is not None
    assert advice.suggestions == [Suggestion.model_validate(RESTART_WEB)]
    assert advice.diagnosis == "web cannot reach its database."
    assert advice.dropped == []
    assert advice.model == "test-model"
    assert advice.cached is False
    [request] = chat.requests
    assert request.path == "/v1/chat/completions"
    body = request.json()
    assert body["model"] == "test-model"
    assert body["stream"] is False
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "```suggestions" in system["content"]
    assert all(action.value in system["content"] for action in ServiceAction)
    assert user["role"] == "user"
    assert "Services you may name: db, web" in user["content"]
    assert "Networks you may create: proxy" in user["content"]
    assert '"reason": "web exited with code 1"' in user["content"]


async def test_no_secret_reaches_the_endpoint_or_the_logs(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser()
    with capture_logs() as logs:
        advice = await adviser.advise(
            evidence(), services=SERVICES, networks=NETWORKS, secrets=[DB_PASSWORD]
        )
    assert advice is not None

    [request] = chat.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.body.decode()
    for secret in (API_KEY, DB_PASSWORD, MAIL_TOKEN, URL_PASSWORD, LOG_SECRET, JWT):
        assert secret not in body
        assert secret not in repr(logs)
    assert MASK in body
    assert "DATABASE_PASSWORD=" in body  # names are kept, values are not
    assert "fatal: could not connect" in body
    assert any(entry["event"] == "llm advised" and entry["kept"] == 1 for entry in logs)


async def test_no_authorization_header_without_a_key(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply(RESTART_WEB)
    assert await advise(make_adviser(api_key=None)) is not None
    assert "authorization" not in chat.requests[0].headers


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            reply(
                {
                    "kind": "service_action",
                    "service": "web",
                    "action": "exec",
                    "title": "fix",
                    "reason": "x",
                }
            ),
            "action",
            id="exec-action",
        ),
        pytest.param(
            reply({"kind": "shell", "service": "web", "action": "restart", "command": "rm -rf /"}),
            "kind",
            id="shell-kind",
        ),
        pytest.param(
            reply({"service": "web", "action": "restart", "command": "docker exec web sh"}),
            "command",
            id="extra-command-field",
        ),
        pytest.param(
            "Just run `docker compose up -d` and it works.", "no ```suggestions", id="no-block"
        ),
        pytest.param(
            "Hmm.\n```suggestions\n[{'service': web}\n```", "not valid JSON", id="garbage-json"
        ),
        pytest.param('```suggestions\n"restart web"\n```', "expected a JSON list", id="not-a-list"),
    ],
)
async def test_forbidden_or_garbage_answers_leave_it_to_the_rules(
    chat: ChatServer, make_adviser: AdviserFactory, content: str, reason: str
) -> None:
    chat.content = content
    adviser = make_adviser()
    consultation = await adviser.consult(evidence(), services=SERVICES, networks=NETWORKS)

    assert consultation.outcome is LlmOutcome.NOTHING_VALID
    assert consultation.advice is not None
    assert consultation.advice.suggestions == []
    assert any(reason in dropped for dropped in consultation.advice.dropped)
    assert await advise(adviser) is None
    assert len(chat.requests) == 1  # the second answer came from the cache


async def test_unknown_service_is_dropped_and_the_rest_kept(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    ghost = {**RESTART_WEB, "service": "ghost"}
    network = {"service": "proxy", "action": "create_network", "title": "Create proxy"}
    chat.content = reply(ghost, network, RESTART_WEB)
    advice = await advise(make_adviser())

    assert advice is not None
    assert [(s.action, s.service) for s in advice.suggestions] == [
        (ServiceAction.CREATE_NETWORK, "proxy"),
        (ServiceAction.RESTART, "web"),
    ]
    assert advice.dropped == ["#0: restart ghost: not part of this deployment"]


async def test_only_unknown_services_means_no_advice(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply({**RESTART_WEB, "service": "ghost"})
    assert await advise(make_adviser()) is None


async def test_slow_endpoint_times_out_while_its_handler_still_waits(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.hold = True
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser(timeout_seconds=0.3)
    with capture_logs() as logs:
        consultation = await adviser.consult(evidence(), services=SERVICES, networks=NETWORKS)

    assert consultation.outcome is LlmOutcome.TIMED_OUT
    assert consultation.advice is None
    assert chat.pending == 1, "the handler should still be waiting to answer"
    assert [e["event"] for e in logs] == ["llm timed out"]


async def test_timeout_is_a_deadline_for_the_whole_exchange(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    # Bytes keep arriving well within the timeout, so only a total deadline ends the call.
    chat.trickle = True
    chat.trickle_interval = 0.02
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser(timeout_seconds=0.3)
    consultation = await adviser.consult(evidence(), services=SERVICES, networks=NETWORKS)

    assert consultation.outcome is LlmOutcome.TIMED_OUT
    assert len(chat.requests) == 1
    assert chat.answered == 0, "the server had not finished its answer"


@pytest.mark.parametrize(
    ("script", "error"),
    [
        pytest.param({"status": 500, "raw": b"upstream exploded"}, "HTTP 500", id="http-500"),
        pytest.param(
            {"status": 401, "payload": {"error": {"message": "bad key"}}}, "HTTP 401", id="http-401"
        ),
        pytest.param({"raw": b"<html>not json</html>"}, "Expecting value", id="not-json"),
        pytest.param(
            {"payload": {"id": "x", "object": "chat.completion"}},
            "no choices",
            id="missing-choices",
        ),
        pytest.param(
            {"payload": {"choices": [{"message": {"role": "assistant"}}]}},
            "no message content",
            id="missing-content",
        ),
        pytest.param(
            {"payload": {"error": {"message": "model not found"}}},
            "model not found",
            id="error-payload",
        ),
    ],
)
async def test_failed_calls_leave_it_to_the_rules(
    chat: ChatServer, make_adviser: AdviserFactory, script: dict[str, Any], error: str
) -> None:
    for name, value in script.items():
        setattr(chat, name, value)
    adviser = make_adviser()
    consultation = await adviser.consult(evidence(), services=SERVICES, networks=NETWORKS)

    assert consultation.outcome is LlmOutcome.FAILED
    assert error in consultation.error
    assert await advise(adviser) is None
    assert len(chat.requests) == 2, "failures are not cached"


async def test_refused_connection_leaves_it_to_the_rules(
    make_adviser: AdviserFactory,
) -> None:
    adviser = make_adviser(url=closed_port_url())
    consultation = await adviser.consult(evidence(), services=SERVICES, networks=NETWORKS)
    assert consultation.outcome is LlmOutcome.FAILED
    assert "ConnectError" in consultation.error


async def test_budget_spent_means_no_call(
    chat: ChatServer, make_adviser: AdviserFactory, clock: FakeClock
) -> None:
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser(max_calls_per_hour=2)
    assert await advise(adviser, attempt=1) is not None
    assert await advise(adviser, attempt=2) is not None
    assert adviser.calls_left() == 0

    consultation = await adviser.consult(evidence(attempt=3), services=SERVICES, networks=NETWORKS)
    assert consultation.outcome is LlmOutcome.BUDGET_SPENT
    assert len(chat.requests) == 2

    clock.advance(3600)
    assert adviser.calls_left() == 2
    assert await advise(adviser, attempt=3) is not None
    assert len(chat.requests) == 3


async def test_failed_calls_count_against_the_budget(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.status = 500
    adviser = make_adviser(max_calls_per_hour=1)
    assert await advise(adviser) is None
    assert adviser.calls_left() == 0
    chat.status = 200
    chat.content = reply(RESTART_WEB)
    assert await advise(adviser) is None
    assert len(chat.requests) == 1


async def test_cache_hit_does_not_reach_the_server(
    chat: ChatServer, make_adviser: AdviserFactory, clock: FakeClock
) -> None:
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser(cache_seconds=600, max_calls_per_hour=5)
    first = await advise(adviser)
    second = await advise(adviser)

    assert first is not None and second is not None
    assert (first.cached, second.cached) == (False, True)
    assert second.suggestions == first.suggestions
    assert second.diagnosis == first.diagnosis
    assert len(chat.requests) == 1
    assert adviser.calls_left() == 4, "a cache hit costs no budget"

    await advise(adviser, verdict="degraded")
    assert len(chat.requests) == 2, "other evidence is another question"

    clock.advance(601)
    again = await advise(adviser)
    assert again is not None and again.cached is False
    assert len(chat.requests) == 3


async def test_cache_key_is_the_redacted_evidence(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser()
    first = evidence()
    second = evidence()
    second["services"]["web"]["env"] = ["DATABASE_PASSWORD=another-one", "MAIL_TOKEN=x", "DEBUG"]
    assert await adviser.advise(first, services=SERVICES, networks=NETWORKS) is not None
    advice = await adviser.advise(second, services=SERVICES, networks=NETWORKS)
    assert advice is not None and advice.cached
    assert len(chat.requests) == 1


async def test_cached_answer_is_checked_against_the_current_services(
    chat: ChatServer, make_adviser: AdviserFactory
) -> None:
    chat.content = reply(RESTART_WEB)
    adviser = make_adviser()
    ask = evidence()
    assert await adviser.advise(ask, services=SERVICES, networks=NETWORKS) is not None
    # Same evidence, but "web" is no longer allowed: the prompt differs, so it asks again.
    chat.content = reply({**RESTART_WEB, "service": "db"})
    advice = await adviser.advise(ask, services={"db"}, networks=NETWORKS)
    assert advice is not None and advice.suggestions[0].service == "db"
    assert len(chat.requests) == 2
