"""Read the YAML file, apply ``STACKMEDIC_*`` overrides, validate, and explain every error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from stackmedic.config.model import Settings

ENV_PREFIX = "STACKMEDIC_"
NESTED_DELIMITER = "__"
# Variables read by the CLI or the launcher, not config keys.
RESERVED_ENV = {"STACKMEDIC_CONFIG", "STACKMEDIC_URL", "STACKMEDIC_TOKEN"}


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists each as ``key.path: what is wrong``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        """Human-readable message naming every bad key."""
        lines = [f"invalid configuration ({self.source}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or ``$STACKMEDIC_CONFIG``) and the environment."""
    env = os.environ if env is None else env
    if path is None and env.get("STACKMEDIC_CONFIG"):
        path = Path(env["STACKMEDIC_CONFIG"])
    source = str(path) if path else "built-in defaults"
    data = _read_yaml(path) if path else {}
    origins: dict[tuple[str, ...], str] = {}
    env_problems = _apply_env(data, env, origins)
    if env_problems:
        raise ConfigError(source + " + environment", env_problems)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, origins)) from None


def check_channels(settings: Settings) -> None:
    """Build every notification channel once so that plugin kinds are checked too."""
    from stackmedic.notify.errors import ChannelConfigError
    from stackmedic.notify.registry import ChannelRegistry

    registry = ChannelRegistry.with_builtins()
    problems = []
    for name, channel in settings.notifications.channels.items():
        try:
            registry.build(name, channel)
        except ChannelConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("notification channels", problems)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(str(path), ["the top level must be a mapping of keys to values"])
    return loaded


def _apply_env(
    data: dict[str, Any], env: Mapping[str, str], origins: dict[tuple[str, ...], str]
) -> list[str]:
    """Merge ``STACKMEDIC_SECTION__KEY=value`` into ``data``; values are parsed as YAML."""
    problems = []
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        path = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split(NESTED_DELIMITER))
        if not _known_path(Settings, path):
            problems.append(f"{name}: no config key {'.'.join(path)!r}")
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (int, float, bool)) and _is_text_key(Settings, path):
            value = raw
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
        origins[path] = name
    return problems


def _field_model(model: type[BaseModel], key: str) -> tuple[bool, Any]:
    field = model.model_fields.get(key)
    if field is None:
        return False, None
    return True, field.annotation


def _known_path(model: type[BaseModel], path: tuple[str, ...]) -> bool:
    known, annotation = _field_model(model, path[0])
    if not known:
        return False
    if len(path) == 1:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _known_path(annotation, path[1:])
    # Mappings (such as notification channels) accept any key below them.
    return True


def _is_text_key(model: type[BaseModel], path: tuple[str, ...]) -> bool:
    known, annotation = _field_model(model, path[0])
    if not known:
        return False
    if len(path) > 1:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return _is_text_key(annotation, path[1:])
        return False
    members = set(get_args(annotation)) or {annotation}
    return bool(members & {str, SecretStr}) and not members & {int, float, bool}


def _describe(exc: ValidationError, origins: dict[tuple[str, ...], str]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        if len(loc) >= 4 and loc[:2] == ("notifications", "channels"):
            loc = loc[:3] + loc[4:]  # drop the channel-type tag pydantic adds
        key = ".".join(loc) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        origin = next(
            (var for p, var in origins.items() if loc[: len(p)] == p),
            None,
        )
        suffix = f" (from {origin})" if origin else ""
        got = error.get("input")
        shown = ""
        secret = any(word in key for word in ("secret", "password", "token", "key", "url"))
        if error["type"] != "extra_forbidden" and isinstance(got, (str, int, float, bool)) \
                and not secret:
            shown = f", got {got!r}"
        problems.append(f"{key}: {message}{shown}{suffix}")
    return problems
