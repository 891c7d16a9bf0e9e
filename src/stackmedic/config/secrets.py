"""Every secret value held in the settings, so that it can be kept out of everything shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from stackmedic.auth import load_or_create_token

if TYPE_CHECKING:
    from stackmedic.config.model import Settings


def secret_values(model: object) -> list[str]:
    """Every ``SecretStr`` value anywhere in a settings tree."""
    found: list[str] = []
    if isinstance(model, SecretStr):
        found.append(model.get_secret_value())
    elif isinstance(model, BaseModel):
        for key in type(model).model_fields:
            found += secret_values(getattr(model, key))
    elif isinstance(model, dict):
        for value in model.values():
            found += secret_values(value)
    elif isinstance(model, (list, tuple)):
        for value in model:
            found += secret_values(value)
    return found


def known_secrets(settings: BaseModel, *tokens: str | None) -> list[str]:
    """The API tokens and every secret of the settings: values never to be shown anywhere."""
    return [value for value in (*tokens, *secret_values(settings)) if value]


def api_tokens(settings: Settings) -> tuple[str, str]:
    """The operator and the read-only token: as configured, else kept in their files."""
    api = settings.api
    return (
        load_or_create_token(api.token.get_secret_value() if api.token else None,
                             settings.resolved_token_file),
        load_or_create_token(api.read_token.get_secret_value() if api.read_token else None,
                             settings.resolved_read_token_file),
    )
