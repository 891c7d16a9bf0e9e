"""Render a commented YAML config holding every key at its default value."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from stackmedic.config.model import Settings

HEADER = """\
# stackmedic configuration: every key with its default value.
# Any key can be overridden by an environment variable: STACKMEDIC_<KEY>, with `__`
# between nested keys, e.g. STACKMEDIC_API__PORT=9000 or
# STACKMEDIC_HEALTH__SWEEP_INTERVAL_SECONDS=10.
# Validate with `stackmedic config check --config FILE`.
"""


FOOTER = """
# Examples of notification channels (one config line or block each):
#
# notifications:
#   channels:
#     ops:
#       type: email
#       host: smtp.example.org
#       port: 587
#       security: starttls          # none | starttls | tls
#       username: stackmedic
#       password: change-me         # or STACKMEDIC_NOTIFICATIONS__CHANNELS__OPS__PASSWORD
#       from_address: stackmedic@example.org
#       to: [ops@example.org]
#     hook:
#       type: webhook
#       url: https://hooks.example.org/stackmedic
#       secret: change-me           # X-Stackmedic-Signature: sha256=<hmac of the body>
#       format: stackmedic          # or: alertmanager
#     fleet:
#       type: alertmanager
#       url: http://127.0.0.1:9093
#     chat:
#       type: apprise
#       url: ntfy://ntfy.sh/my-topic   # any apprise URL: slack://, discord://, tgram://, ...
"""
# Values shown for keys that have no default, in sections that are off unless set.
EXAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "LlmConfig": {"url": "http://127.0.0.1:11434/v1", "model": "llama3.1"},
}


def render_example() -> str:
    """The example config as YAML text with each key's description as a comment."""
    lines = [HEADER]
    _render_model(Settings(), lines, indent=0)
    return "\n".join(lines).rstrip() + "\n" + FOOTER


def _comment(model: BaseModel, key: str) -> str | None:
    field = type(model).model_fields[key]
    return field.description


def _render_model(model: BaseModel, lines: list[str], indent: int) -> None:
    pad = "  " * indent
    dumped = model.model_dump(mode="json")
    for key in type(model).model_fields:
        description = _comment(model, key)
        if description:
            for part in description.splitlines():
                lines.append(f"{pad}# {part}".rstrip())
        value = getattr(model, key)
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{key}:")
            _render_model(value, lines, indent + 1)
            continue
        lines.append(_scalar_or_block(key, dumped[key], pad))
        section = _optional_section(type(model).model_fields[key].annotation)
        if value is None and section is not None:
            _render_commented(key, section, lines, indent)


def _optional_section(annotation: Any) -> type[BaseModel] | None:
    """The model class of an ``X | None`` field whose X is a section, else None."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return None
    found = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return found[0] if len(found) == 1 else None


def _render_commented(key: str, section: type[BaseModel], lines: list[str],
                      indent: int) -> None:
    """A section that is off by default: every key of it, commented out, ready to use."""
    pad = "  " * indent
    example = section.model_validate(EXAMPLE_VALUES.get(section.__name__, {}))
    block = [f"{key}:"]
    _render_model(example, block, 1)
    lines.append(f"{pad}# To turn it on, uncomment and fill in (keys without a default first):")
    lines += [f"{pad}# {line}".rstrip() for line in block]


def _scalar_or_block(key: str, value: Any, pad: str) -> str:
    if isinstance(value, (dict, list)) and value:
        block = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False)
        return "\n".join(pad + line for line in block.rstrip().splitlines())
    rendered = yaml.safe_dump(value, default_flow_style=True).strip()
    rendered = rendered.removesuffix("\n...").removesuffix("...").strip()
    return f"{pad}{key}: {rendered}"
