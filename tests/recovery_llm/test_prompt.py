"""The messages sent to the model: vocabulary, allowed names, evidence within a size limit."""

from __future__ import annotations

import json

from stackmedic.recovery.llm_prompt import (
    ACTION_MEANINGS,
    BLOCK_TAG,
    system_prompt,
    user_message,
)
from stackmedic.recovery.suggestions import ServiceAction
from stackmedic.redact import MASK


def evidence_of(message: str) -> object:
    """The evidence JSON at the end of a user message."""
    return json.loads(message.split("Evidence (JSON):\n", 1)[1])


def test_system_prompt_explains_every_action_and_the_block() -> None:
    prompt = system_prompt()
    for action in ServiceAction:
        assert f"- {action.value}: {ACTION_MEANINGS[action]}" in prompt
    assert f"```{BLOCK_TAG}\n[" in prompt
    assert '"kind": "service_action"' in prompt
    assert "shell commands, exec" in prompt


def test_user_message_names_what_may_be_named_and_holds_the_evidence() -> None:
    evidence = {"deployment": "shop", "services": {"web": {"status": "exited"}}}
    message = user_message(evidence, services={"web", "db"}, networks=set(), max_chars=10_000)
    assert message.startswith("Services you may name: db, web\nNetworks you may create: (none)\n")
    assert evidence_of(message) == evidence


def test_long_strings_are_cut_to_their_tails_to_fit() -> None:
    lines = [f"line {i:04d} " + "x" * 80 for i in range(400)]
    evidence = {"log": "\n".join(lines), "status": "exited"}
    message = user_message(evidence, services={"web"}, networks=set(), max_chars=4000)
    kept = evidence_of(message)
    assert isinstance(kept, dict)
    assert kept["status"] == "exited"
    assert kept["log"].startswith("[...] ")
    assert kept["log"].endswith(lines[-1])
    assert len(message) < 4200


def test_json_text_is_cut_when_cutting_strings_is_not_enough() -> None:
    evidence = {f"key{i}": i for i in range(2000)}
    message = user_message(evidence, services={"web"}, networks=set(), max_chars=1000)
    assert message.rstrip().endswith("[...]")
    assert len(message) < 1200


def test_known_secrets_are_masked_as_a_last_guard_even_when_escaped() -> None:
    secret = 'pa"ss\\word-1'
    message = user_message(
        {"note": f"left over {secret}"},
        services=set(),
        networks=set(),
        max_chars=1000,
        secrets=[secret],
    )
    assert secret not in message
    assert json.dumps(secret)[1:-1] not in message
    assert evidence_of(message) == {"note": f"left over {MASK}"}
