"""Suggested actions in one vocabulary, and the allowlist every suggestion must pass."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ServiceAction(StrEnum):
    """What a recovery step may do to a service: the one allowlist.

    The LLM prompt offers exactly these, the parser refuses anything else, and the
    executor carries out each of them. Recovery never stops a service.
    """

    START = "start"
    RESTART = "restart"
    REBUILD = "rebuild"
    PULL = "pull"
    RECREATE = "recreate"
    CREATE_NETWORK = "create_network"


class Suggestion(BaseModel):
    """One suggested step: ``kind`` is always ``service_action``.

    For ``create_network`` the ``service`` field holds the network's name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["service_action"] = "service_action"
    service: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    action: ServiceAction
    title: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=2000)

    def describe(self) -> str:
        """Short human form, e.g. ``restart web``."""
        target = "network " if self.action == ServiceAction.CREATE_NETWORK else ""
        return f"{self.action.value.replace('_', ' ')} {target}{self.service}"


def validate_suggestions(
    raw: Any, *, services: set[str], networks: set[str]
) -> tuple[list[Suggestion], list[str]]:
    """Keep the suggestions that are well formed and name a known service or network.

    Returns the kept suggestions and a reason for each dropped one.
    """
    kept: list[Suggestion] = []
    dropped: list[str] = []
    if not isinstance(raw, list):
        return [], [f"expected a JSON list of suggestions, got {type(raw).__name__}"]
    for index, item in enumerate(raw):
        try:
            suggestion = Suggestion.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            dropped.append(f"#{index}: {where}: {first['msg']}")
            continue
        allowed = networks if suggestion.action == ServiceAction.CREATE_NETWORK else services
        if suggestion.service not in allowed:
            dropped.append(f"#{index}: {suggestion.describe()}: not part of this deployment")
            continue
        if suggestion not in kept:
            kept.append(suggestion)
    return kept, dropped
