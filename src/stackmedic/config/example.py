"""Render a commented YAML config holding every key at its default value."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr

from stackmedic.config.model import Settings
from stackmedic.logwatch.config import LogRule
from stackmedic.notify.channel_config import (
    AlertmanagerChannelConfig,
    AppriseChannelConfig,
    EmailChannelConfig,
    WebhookChannelConfig,
)
from stackmedic.notify.config import DeploymentOverride, RouteConfig

HEADER = """\
# stackmedic configuration: every key with its default value.
# Any key can be overridden by an environment variable: STACKMEDIC_<KEY>, with `__`
# between nested keys, e.g. STACKMEDIC_API__PORT=9000 or
# STACKMEDIC_HEALTH__SWEEP_INTERVAL_SECONDS=10.
# Validate with `stackmedic config check --config FILE`.
"""


# Collections of entries (channels, routes, per-deployment overrides) are empty by
# default; the example shows one entry of each shape, commented out, with every key.
# Keys without a default get these values; the rest show their defaults.
ENTRY_EXAMPLES: dict[tuple[str, str], list[tuple[str | None, type[BaseModel], dict[str, Any]]]] = {
    ("NotifyConfig", "channels"): [
        ("mail", EmailChannelConfig, {"type": "email", "host": "smtp.example.org",
                                      "from_address": "stackmedic@example.org",
                                      "to": ["ops@example.org"]}),
        ("hook", WebhookChannelConfig, {"type": "webhook",
                                        "url": "https://hooks.example.org/stackmedic"}),
        ("fleet", AlertmanagerChannelConfig, {"type": "alertmanager",
                                              "url": "http://127.0.0.1:9093"}),
        ("chat", AppriseChannelConfig, {"type": "apprise", "url": "ntfy://ntfy.sh/my-topic"}),
    ],
    ("NotifyConfig", "routes"): [
        (None, RouteConfig, {"kinds": ["ill-health", "recovery-gave-up"],
                             "min_severity": "warning", "channels": ["mail", "hook"]}),
    ],
    ("LogsConfig", "rules"): [
        (None, LogRule, {"name": "db-down", "pattern": "could not connect to (the )?database",
                         "count": 5, "window_seconds": 60, "services": ["web"]}),
    ],
    ("NotifyConfig", "per_deployment"): [
        ("shop", DeploymentOverride, {"channels": ["mail"], "min_severity": "critical"}),
    ],
}
ENTRY_NOTES: dict[str, str] = {
    "channels": "# Secrets may come from the environment instead, e.g.\n"
                "# STACKMEDIC_NOTIFICATIONS__CHANNELS__MAIL__PASSWORD.",
}
# Values shown for keys that have no default, in sections that are off unless set.
EXAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "LlmConfig": {"url": "http://127.0.0.1:11434/v1", "model": "llama3.1"},
}


def render_example() -> str:
    """The example config as YAML text with each key's description as a comment."""
    lines = [HEADER]
    _render_model(Settings(), lines, indent=0)
    return "\n".join(lines).rstrip() + "\n"


def _comment(model: BaseModel, key: str) -> str | None:
    field = type(model).model_fields[key]
    return field.description


def _render_model(model: BaseModel, lines: list[str], indent: int) -> None:
    pad = "  " * indent
    dumped = model.model_dump(mode="json", by_alias=True)
    for key, field in type(model).model_fields.items():
        name = field.alias or key
        description = _comment(model, key)
        if description:
            for part in description.splitlines():
                lines.append(f"{pad}# {part}".rstrip())
        value = getattr(model, key)
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            _render_model(value, lines, indent + 1)
            continue
        shown = dumped[name]
        if isinstance(value, SecretStr):  # only examples hold secrets: show them
            shown = value.get_secret_value()
        lines += _scalar_or_block(name, shown, pad).splitlines()
        section = _optional_section(field.annotation)
        if value is None and section is not None:
            _render_commented(key, section, lines, indent)
        entries = ENTRY_EXAMPLES.get((type(model).__name__, key))
        if entries and not value:
            _render_entries(name, entries, lines, indent)


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


def _render_entries(key: str, entries: list[tuple[str | None, type[BaseModel], dict[str, Any]]],
                    lines: list[str], indent: int) -> None:
    """A collection that is empty by default: example entries with every key, commented."""
    pad = "  " * indent
    block = [f"{key}:"]
    for entry_name, model, values in entries:
        example = model.model_validate(values)
        if entry_name is None:  # a list entry: "-" alone, then its keys below it
            block.append("-")
            _render_model(example, block, 1)
        else:
            block.append(f"  {entry_name}:")
            _render_model(example, block, 2)
    lines += [f"{pad}{note}" for note in ENTRY_NOTES.get(key, "").splitlines()]
    lines.append(f"{pad}# To turn it on, uncomment and fill in (one entry of each kind, "
                 "every key):")
    lines += [f"{pad}# {line}".rstrip() for line in block]
    lines.append("")  # ends the commented block


def _scalar_or_block(key: str, value: Any, pad: str) -> str:
    if isinstance(value, (dict, list)) and value:
        block = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False)
        return "\n".join(pad + line for line in block.rstrip().splitlines())
    rendered = yaml.safe_dump(value, default_flow_style=True).strip()
    rendered = rendered.removesuffix("\n...").removesuffix("...").strip()
    return f"{pad}{key}: {rendered}"
