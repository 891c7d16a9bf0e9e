"""stackmedic.example.yaml holds every key of the schema, nested and optional sections too."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from stackmedic.config.example import ENTRY_EXAMPLES
from stackmedic.config.model import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "stackmedic.example.yaml"
MARKER = "# To turn it on, uncomment"


def schema_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every dotted key of a settings class, through sections and optional sections."""
    found: set[str] = set()
    for key, field in model.model_fields.items():
        path = f"{prefix}{key}"
        found.add(path)
        annotation: Any = field.annotation
        options = get_args(annotation) if get_origin(annotation) in (
            Union, types.UnionType) else (annotation,)
        for option in options:
            if isinstance(option, type) and issubclass(option, BaseModel):
                found |= schema_keys(option, path + ".")
    return found


def example_keys(text: str) -> set[str]:
    """Every dotted key in the example, with the commented-out sections switched on."""
    return _flatten(switched_on(text))


def switched_on(text: str) -> Any:
    """The example as loaded YAML with every commented-out section switched on."""
    lines, switching = [], False
    for line in text.splitlines():
        if line.strip().startswith(MARKER):
            switching = True
            continue
        match = re.fullmatch(r"(\s*)# ?(.*)", line) if switching else None
        if match:
            lines.append(match.group(1) + match.group(2))
            continue
        switching = False
        lines.append(line)
    return yaml.safe_load("\n".join(lines))


def _flatten(tree: object, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.add(f"{prefix}{key}")
            found |= _flatten(value, f"{prefix}{key}.")
    return found


def test_every_key_is_in_the_example_config() -> None:
    missing = schema_keys(Settings) - example_keys(EXAMPLE.read_text())
    assert not missing, f"keys missing from stackmedic.example.yaml: {sorted(missing)}"


def test_a_missing_nested_key_is_noticed() -> None:
    text = EXAMPLE.read_text()
    assert "max_evidence_chars" in text
    cut = "\n".join(line for line in text.splitlines() if "max_evidence_chars:" not in line)
    assert "recovery.llm.max_evidence_chars" in schema_keys(Settings) - example_keys(cut)


def model_keys(model: type[BaseModel]) -> set[str]:
    """A model's keys as written in YAML (aliases included)."""
    return {field.alias or key for key, field in model.model_fields.items()}


def test_every_channel_route_and_override_key_is_in_an_example_entry() -> None:
    example = switched_on(EXAMPLE.read_text())
    notifications = example["notifications"]
    shown = {
        "channels": list(notifications["channels"].values()),
        "routes": notifications["routes"],
        "per_deployment": list(notifications["per_deployment"].values()),
        "rules": example["logs"]["rules"],
    }
    for (_, field), entries in ENTRY_EXAMPLES.items():
        for index, (_, model, _) in enumerate(entries):
            missing = model_keys(model) - set(shown[field][index])
            assert not missing, f"{field}: {model.__name__} lacks {missing}"


def test_the_example_with_every_section_switched_on_is_a_valid_config() -> None:
    settings = Settings.model_validate(switched_on(EXAMPLE.read_text()))
    assert {c.type for c in settings.notifications.channels.values()} == {
        "email", "webhook", "alertmanager", "apprise"}
    assert settings.recovery.llm is not None


def test_a_missing_channel_key_is_noticed() -> None:
    cut = "\n".join(line for line in EXAMPLE.read_text().splitlines()
                    if "subject_prefix:" not in line)
    channels = switched_on(cut)["notifications"]["channels"]
    assert "subject_prefix" not in channels["mail"]
