"""The messages sent to the LLM adviser: the vocabulary it must use and the evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stackmedic.recovery.suggestions import ServiceAction
from stackmedic.redact import mask_known

BLOCK_TAG = "suggestions"
MAX_SUGGESTIONS = 10
TRUNCATED = "[...] "
# Strings are never cut shorter than this while shrinking the evidence to fit.
MIN_STRING_CHARS = 120

ACTION_MEANINGS: dict[ServiceAction, str] = {
    ServiceAction.START: "start the service's existing containers without recreating them "
    "(they exited, or were never started)",
    ServiceAction.RESTART: "restart the service's containers (hung, unhealthy, or stuck)",
    ServiceAction.REBUILD: "build the service's image from its build context, then start it "
    "(only when the evidence says it has a build context)",
    ServiceAction.PULL: "pull the service's image from its registry, then start it "
    "(image missing locally)",
    ServiceAction.RECREATE: "remove and recreate the service's containers from the compose "
    "file (containers drifted from the file, or are broken)",
    ServiceAction.CREATE_NETWORK: 'create a missing network; "service" then holds the '
    "network's name",
}


def system_prompt() -> str:
    """The instructions: what to answer, the allowed actions, and what is ignored."""
    actions = "\n".join(
        f"- {action.value}: {ACTION_MEANINGS[action]}"
        for action in ServiceAction
    )
    example = json.dumps(
        [
            {
                "kind": "service_action",
                "service": "...",
                "action": "...",
                "title": "...",
                "reason": "...",
            }
        ]
    )
    return f"""\
You diagnose Docker Compose deployments for stackmedic, an agent that recovers them.
You get evidence about one deployment as JSON: its services with their state, exit codes,
OOM kills, restart counts, healthcheck output and a log tail; whether images and networks
are present; whether the compose file is valid. Secrets in it are replaced by ****.

Answer with a short diagnosis in plain text (a few sentences: what is wrong and why),
followed by exactly one fenced block tagged {BLOCK_TAG} holding a JSON list of actions,
in the order they should run:

```{BLOCK_TAG}
{example}
```

"kind" is always "service_action". "action" is one of:
{actions}

"service" must be one of the services listed with the evidence (for create_network, one
of the networks listed there). "title" is a short label, "reason" one sentence of why.
Give at most {MAX_SUGGESTIONS} actions. If no action would help (for example the image
cannot be obtained, or the compose file is invalid), say so and give an empty list: [].

Anything else is ignored and never run: shell commands, exec into containers, file edits,
other kinds or actions, extra fields.
"""


def _shrink(value: Any, limit: int) -> Any:
    """Cut every string longer than ``limit`` to its last ``limit`` characters."""
    if isinstance(value, str):
        return value if len(value) <= limit else TRUNCATED + value[-limit:]
    if isinstance(value, dict):
        return {key: _shrink(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_shrink(item, limit) for item in value]
    return value


def evidence_json(evidence: dict[str, Any], max_chars: int) -> str:
    """Serialise evidence, cutting long strings to their tails until it fits ``max_chars``.

    Tails are kept because the newest log lines are at the end. Only when that is not
    enough is the JSON text itself cut (and then no longer valid JSON).
    """
    text = json.dumps(evidence, ensure_ascii=False, sort_keys=True, default=str)
    limit = max_chars
    while len(text) > max_chars and limit > MIN_STRING_CHARS:
        limit = max(MIN_STRING_CHARS, limit // 2)
        text = json.dumps(_shrink(evidence, limit), ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= max_chars else text[:max_chars] + " [...]"


def user_message(
    evidence: dict[str, Any],
    *,
    services: set[str],
    networks: set[str],
    max_chars: int,
    secrets: Iterable[str] = (),
) -> str:
    """The question: allowed names and the (already redacted) evidence as JSON.

    Known secrets are masked once more in the finished text, also in their JSON-escaped
    form, as a last guard.
    """
    text = (
        f"Services you may name: {', '.join(sorted(services)) or '(none)'}\n"
        f"Networks you may create: {', '.join(sorted(networks)) or '(none)'}\n"
        "Evidence (JSON):\n"
        f"{evidence_json(evidence, max_chars)}\n"
    )
    known = list(secrets)
    escaped = [json.dumps(s, ensure_ascii=False)[1:-1] for s in known]
    return mask_known(text, [*known, *escaped])


__all__ = ["ACTION_MEANINGS", "BLOCK_TAG", "MAX_SUGGESTIONS", "system_prompt", "user_message"]
