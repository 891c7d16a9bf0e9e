"""Reading the LLM adviser's answer: the chat-completion payload, then the reply text.

Rules for the reply text:

- ``<think>...</think>`` sections (reasoning models) are removed first.
- Fenced blocks open with a line of three or more backticks (or tildes) plus an info
  string, and close with the same fence on a line of its own. An unclosed block does not
  count (the answer was probably cut short).
- The block used is the first one whose info string holds the word ``suggestions``
  (so ```` ```suggestions ````, ```` ```json suggestions ```` and ```` ```suggestions json ````
  all work). Further such blocks are ignored and noted in ``dropped``. Only when there is
  no such block is a single untagged or ``json`` block accepted in its place.
- Its content must be JSON: a list of suggestions, or an object with a ``suggestions``
  list, or one suggestion object. ``action`` is matched case-insensitively with ``-`` or a
  space read as ``_``; everything else must pass ``validate_suggestions`` exactly (extra
  fields such as a command are refused). At most ``MAX_SUGGESTIONS`` are considered.
- The diagnosis is the remaining text with the used block taken out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stackmedic.recovery.llm_prompt import BLOCK_TAG, MAX_SUGGESTIONS
from stackmedic.recovery.suggestions import Suggestion, validate_suggestions

MAX_DIAGNOSIS_CHARS = 4000

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$\n?",
    re.MULTILINE | re.DOTALL,
)
_INFO_WORDS = re.compile(r"[A-Za-z0-9_-]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class ReplyError(ValueError):
    """The endpoint's answer is not a usable chat completion."""


@dataclass(frozen=True)
class ParsedReply:
    """What the reply text holds once parsed and checked against the allowlist."""

    diagnosis: str
    suggestions: list[Suggestion] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    declined: bool = False  # an explicit empty list: the model says nothing will help


def completion_text(payload: Any) -> str:
    """The assistant's text from a chat-completions payload; ReplyError if there is none."""
    if not isinstance(payload, dict):
        raise ReplyError(f"expected a JSON object, got {type(payload).__name__}")
    if payload.get("error"):
        raise ReplyError(f"the endpoint answered with an error: {str(payload['error'])[:200]}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ReplyError("the answer has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        raise ReplyError("the answer has no message content")
    return content


def _info_words(info: str) -> set[str]:
    return {word.lower() for word in _INFO_WORDS.findall(info)}


def _pick_block(text: str, dropped: list[str]) -> re.Match[str] | None:
    blocks = list(_FENCE.finditer(text))
    tagged = [b for b in blocks if _info_words(b.group("info")) & {BLOCK_TAG, "suggestion"}]
    if tagged:
        if len(tagged) > 1:
            dropped.append(f"{len(tagged) - 1} further {BLOCK_TAG} block(s) ignored")
        return tagged[0]
    plain = [b for b in blocks if _info_words(b.group("info")) <= {"json"}]
    if len(plain) == 1:
        return plain[0]
    dropped.append(f"no ```{BLOCK_TAG} block in the answer")
    return None


def _normalise(item: Any) -> Any:
    if isinstance(item, dict) and isinstance(item.get("action"), str):
        action = item["action"].strip().lower().replace("-", "_").replace(" ", "_")
        return {**item, "action": action}
    return item


def _items(body: str, dropped: list[str]) -> Any:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        dropped.append(f"{BLOCK_TAG} block is not valid JSON: {exc.msg} (line {exc.lineno})")
        return None
    if isinstance(data, dict):
        data = data[BLOCK_TAG] if isinstance(data.get(BLOCK_TAG), list) else [data]
    if isinstance(data, list):
        if len(data) > MAX_SUGGESTIONS:
            dropped.append(
                f"{len(data) - MAX_SUGGESTIONS} suggestion(s) beyond the first "
                f"{MAX_SUGGESTIONS} ignored"
            )
            data = data[:MAX_SUGGESTIONS]
        return [_normalise(item) for item in data]
    return data


def _diagnosis(text: str) -> str:
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > MAX_DIAGNOSIS_CHARS:
        text = text[: MAX_DIAGNOSIS_CHARS - len(" [...]")].rstrip() + " [...]"
    return text


def parse_reply(content: str, *, services: set[str], networks: set[str]) -> ParsedReply:
    """Split a reply into diagnosis and allowed suggestions, with a reason for each drop."""
    text = _THINK.sub("", content)
    dropped: list[str] = []
    block = _pick_block(text, dropped)
    if block is None:
        return ParsedReply(diagnosis=_diagnosis(text), dropped=dropped)
    diagnosis = _diagnosis(text[: block.start()] + text[block.end() :])
    raw = _items(block.group("body"), dropped)
    if raw is None:
        return ParsedReply(diagnosis=diagnosis, dropped=dropped)
    kept, refused = validate_suggestions(raw, services=services, networks=networks)
    return ParsedReply(diagnosis=diagnosis, suggestions=kept, dropped=[*dropped, *refused],
                       declined=raw == [])


__all__ = ["MAX_DIAGNOSIS_CHARS", "ParsedReply", "ReplyError", "completion_text", "parse_reply"]
