"""Reading the model's answer: the completion payload and the fenced suggestions block."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackmedic.recovery.llm_parse import (
    MAX_DIAGNOSIS_CHARS,
    ReplyError,
    completion_text,
    parse_reply,
)
from stackmedic.recovery.llm_prompt import MAX_SUGGESTIONS
from stackmedic.recovery.suggestions import ServiceAction

SERVICES = {"web", "db"}
NETWORKS = {"proxy"}
RESTART = '[{"kind": "service_action", "service": "web", "action": "restart"}]'


def parse(content: str) -> Any:
    """Parse against the standard services and networks."""
    return parse_reply(content, services=SERVICES, networks=NETWORKS)


def actions(content: str) -> list[tuple[str, str]]:
    """(action, service) of every kept suggestion."""
    return [(s.action.value, s.service) for s in parse(content).suggestions]


@pytest.mark.parametrize(
    ("opening", "closing"),
    [
        ("```suggestions", "```"),
        ("```json suggestions", "```"),
        ("```suggestions json", "```"),
        ("  ``` Suggestions ", "```  "),
        ("````suggestions", "````"),
        ("~~~suggestions", "~~~"),
    ],
)
def test_tagged_block_variants_are_read(opening: str, closing: str) -> None:
    content = f"Web is hung.\n{opening}\n{RESTART}\n{closing}\nThat should do."
    parsed = parse(content)
    assert [(s.action, s.service) for s in parsed.suggestions] == [(ServiceAction.RESTART, "web")]
    assert parsed.diagnosis == "Web is hung.\nThat should do."
    assert parsed.dropped == []


def test_single_json_block_is_accepted_when_untagged() -> None:
    assert actions(f"Hung.\n```json\n{RESTART}\n```") == [("restart", "web")]
    assert actions(f"Hung.\n```\n{RESTART}\n```") == [("restart", "web")]


def test_untagged_blocks_are_ambiguous_when_several() -> None:
    parsed = parse(f"```json\n{RESTART}\n```\nor\n```json\n{RESTART}\n```")
    assert parsed.suggestions == []
    assert parsed.dropped == ["no ```suggestions block in the answer"]


def test_tagged_block_wins_over_other_blocks() -> None:
    content = (
        f"Try this by hand:\n```sh\ndocker exec web kill 1\n```\n```suggestions\n{RESTART}\n```"
    )
    parsed = parse(content)
    assert actions(content) == [("restart", "web")]
    assert "docker exec web kill 1" in parsed.diagnosis  # only text, never run


def test_first_tagged_block_is_used_and_the_rest_noted() -> None:
    other = '[{"service": "db", "action": "stop"}]'
    parsed = parse(f"```suggestions\n{RESTART}\n```\n```suggestions\n{other}\n```")
    assert [s.service for s in parsed.suggestions] == ["web"]
    assert parsed.dropped == ["1 further suggestions block(s) ignored"]


def test_unclosed_block_does_not_count() -> None:
    parsed = parse(f"Web is hung.\n```suggestions\n{RESTART}")
    assert parsed.suggestions == []
    assert parsed.dropped == ["no ```suggestions block in the answer"]


def test_think_section_is_removed() -> None:
    content = (
        "<think>maybe ```suggestions\n[]\n``` no wait</think>\nWeb is hung.\n"
        f"```suggestions\n{RESTART}\n```"
    )
    parsed = parse(content)
    assert parsed.diagnosis == "Web is hung."
    assert [s.service for s in parsed.suggestions] == ["web"]


@pytest.mark.parametrize(
    "body",
    [
        '{"suggestions": [{"service": "web", "action": "restart"}]}',
        '{"kind": "service_action", "service": "web", "action": "restart"}',
    ],
)
def test_object_forms_are_accepted(body: str) -> None:
    assert actions(f"```suggestions\n{body}\n```") == [("restart", "web")]


def test_action_spelling_is_normalised_but_not_invented() -> None:
    body = json.dumps(
        [
            {"service": "proxy", "action": "Create-Network"},
            {"service": "web", "action": " RESTART "},
            {"service": "web", "action": "restart please"},
        ]
    )
    parsed = parse(f"```suggestions\n{body}\n```")
    assert [(s.action.value, s.service) for s in parsed.suggestions] == [
        ("create_network", "proxy"),
        ("restart", "web"),
    ]
    assert len(parsed.dropped) == 1 and parsed.dropped[0].startswith("#2: action")


@pytest.mark.parametrize(
    ("item", "where"),
    [
        ({"kind": "exec", "service": "web", "action": "restart"}, "#0: kind"),
        ({"service": "web", "action": "exec"}, "#0: action"),
        ({"service": "web", "action": "shell"}, "#0: action"),
        ({"service": "web", "action": "restart", "command": "sh -c 'rm -rf /'"}, "#0: command"),
        ({"service": "web; rm -rf /", "action": "restart"}, "#0: service"),
        ({"service": "ghost", "action": "restart"}, "#0: restart ghost"),
        ({"service": "web", "action": "create_network"}, "#0: create network"),
        ("restart web", "#0: item"),
    ],
)
def test_anything_outside_the_allowlist_is_dropped(item: Any, where: str) -> None:
    parsed = parse(f"```suggestions\n{json.dumps([item])}\n```")
    assert parsed.suggestions == []
    assert len(parsed.dropped) == 1 and parsed.dropped[0].startswith(where), parsed.dropped


def test_invalid_json_is_reported() -> None:
    parsed = parse("Hung.\n```suggestions\n[{service: web}]\n```")
    assert parsed.suggestions == []
    assert parsed.dropped[0].startswith("suggestions block is not valid JSON")
    assert parsed.diagnosis == "Hung."


def test_at_most_max_suggestions_are_considered() -> None:
    body = json.dumps([{"service": "web", "action": "restart", "title": str(i)} for i in range(15)])
    parsed = parse(f"```suggestions\n{body}\n```")
    assert len(parsed.suggestions) == MAX_SUGGESTIONS
    assert parsed.dropped == [f"5 suggestion(s) beyond the first {MAX_SUGGESTIONS} ignored"]


def test_empty_list_means_no_suggestion_without_complaint() -> None:
    parsed = parse("The image cannot be obtained.\n```suggestions\n[]\n```")
    assert parsed.suggestions == []
    assert parsed.dropped == []
    assert parsed.diagnosis == "The image cannot be obtained."


def test_long_diagnosis_is_cut() -> None:
    parsed = parse("x" * (MAX_DIAGNOSIS_CHARS * 2))
    assert len(parsed.diagnosis) <= MAX_DIAGNOSIS_CHARS
    assert parsed.diagnosis.endswith("[...]")


def test_completion_text_reads_plain_and_part_content() -> None:
    message = {"role": "assistant", "content": "hello"}
    assert completion_text({"choices": [{"index": 0, "message": message}]}) == "hello"
    parts = {"content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]}
    assert completion_text({"choices": [{"message": parts}]}) == "hello"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ([], "expected a JSON object"),
        ({"error": {"message": "model not found"}}, "model not found"),
        ({"choices": []}, "no choices"),
        ({"choices": ["x"]}, "no choices"),
        ({"choices": [{"message": {"content": "  "}}]}, "no message content"),
        ({"choices": [{"message": None}]}, "no message content"),
    ],
)
def test_completion_text_refuses_unusable_payloads(payload: Any, error: str) -> None:
    with pytest.raises(ReplyError, match=error):
        completion_text(payload)
