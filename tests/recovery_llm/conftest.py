"""Fixtures for the LLM adviser tests: a chat endpoint on loopback and adviser factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest

from stackmedic.recovery.config import LlmConfig
from stackmedic.recovery.llm import LlmAdviser
from support.chat_server import ChatServer

API_KEY = "sk-test-Vb71Kq0aZ"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class AdviserFactory(Protocol):
    """Builds an adviser pointed at the chat server (closed at teardown)."""

    def __call__(self, **overrides: Any) -> LlmAdviser: ...


@pytest.fixture
def clock() -> FakeClock:
    """The adviser's clock (budget and cache)."""
    return FakeClock()


@pytest.fixture
async def make_adviser(chat: ChatServer, clock: FakeClock) -> AsyncIterator[AdviserFactory]:
    """Factory for advisers talking to ``chat``; ``overrides`` go into LlmConfig."""
    made: list[LlmAdviser] = []

    def factory(**overrides: Any) -> LlmAdviser:
        settings: dict[str, Any] = {
            "url": chat.url,
            "model": "test-model",
            "api_key": API_KEY,
            "timeout_seconds": 5,
            **overrides,
        }
        adviser = LlmAdviser(LlmConfig.model_validate(settings), clock=clock)
        made.append(adviser)
        return adviser

    try:
        yield factory
    finally:
        for adviser in made:
            await adviser.aclose()
