"""The optional LLM adviser: asks an OpenAI-compatible chat endpoint what to do.

Evidence is redacted before it is sent; the answer's fenced ``suggestions`` block is
checked against the allowlist (see ``llm_parse``). Whenever the adviser cannot give at
least one allowed suggestion (call failed or timed out, budget spent, nothing valid) it
returns None and the rules decide.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict

from stackmedic.recovery.config import LlmConfig
from stackmedic.recovery.llm_parse import ReplyError, completion_text, parse_reply
from stackmedic.recovery.llm_prompt import system_prompt, user_message
from stackmedic.recovery.suggestions import Suggestion
from stackmedic.redact import redact_evidence, redact_text

HOUR = 3600.0
MAX_CACHE_ENTRIES = 256


class Advice(BaseModel):
    """What the model made of the evidence, with only the suggestions that passed."""

    model_config = ConfigDict(frozen=True)

    diagnosis: str
    suggestions: list[Suggestion]
    dropped: list[str]
    model: str
    cached: bool = False
    declined: bool = False


class LlmOutcome(StrEnum):
    """How one consultation ended."""

    ADVISED = "advised"
    NOTHING_VALID = "nothing-valid"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    BUDGET_SPENT = "budget-spent"


@dataclass(frozen=True)
class Consultation:
    """One consultation: its outcome, the parsed answer if any, and the error if any."""

    outcome: LlmOutcome
    advice: Advice | None = None
    error: str = ""


class LlmAdviser:
    """Asks the configured chat endpoint for a diagnosis and allowed suggestions.

    ``secrets`` are strings never to be sent (SMTP passwords, tokens, ...); the API key is
    always one of them. ``clock`` drives the hourly budget and the answer cache.
    """

    def __init__(
        self,
        config: LlmConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        secrets: Iterable[str] = (),
    ) -> None:
        self.config = config
        self._clock = clock
        self._url = str(config.url).rstrip("/") + "/chat/completions"
        key = config.api_key.get_secret_value() if config.api_key else ""
        self._secrets = [s for s in (*secrets, key) if s]
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(
            transport=transport, headers=headers, timeout=config.timeout_seconds
        )
        self._calls: deque[float] = deque()
        self._cache: dict[str, tuple[float, str]] = {}
        self._log = structlog.get_logger(__name__).bind(model=config.model)

    async def __aenter__(self) -> LlmAdviser:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def calls_left(self) -> int:
        """How many calls the hourly budget still allows right now."""
        self._forget_old_calls(self._clock())
        return self.config.max_calls_per_hour - len(self._calls)

    async def advise(
        self,
        evidence: dict[str, Any],
        *,
        services: set[str],
        networks: set[str],
        secrets: Iterable[str] = (),
    ) -> Advice | None:
        """Advice holding at least one allowed suggestion, or None so the rules decide."""
        consultation = await self.consult(
            evidence, services=services, networks=networks, secrets=secrets
        )
        return consultation.advice if consultation.outcome is LlmOutcome.ADVISED else None

    async def consult(
        self,
        evidence: dict[str, Any],
        *,
        services: set[str],
        networks: set[str],
        secrets: Iterable[str] = (),
    ) -> Consultation:
        """Ask the model (or the cache) and say how it went; never raises for endpoint faults."""
        known = [*self._secrets, *secrets]
        question = user_message(
            redact_evidence(evidence, known),
            services=services,
            networks=networks,
            max_chars=self.config.max_evidence_chars,
            secrets=known,
        )
        key = hashlib.sha256(f"{self.config.model}\0{question}".encode()).hexdigest()
        now = self._clock()
        cached = self._cached(key, now)
        if cached is not None:
            return self._conclude(cached, services, networks, cached=True, latency=0.0)
        if self.calls_left() <= 0:
            self._log.warning("llm budget spent", max_calls_per_hour=self.config.max_calls_per_hour)
            return Consultation(LlmOutcome.BUDGET_SPENT, error="hourly call budget spent")
        self._calls.append(now)
        started = time.perf_counter()
        try:
            content = await self._ask(question)
        except (TimeoutError, httpx.TimeoutException):
            latency = time.perf_counter() - started
            self._log.warning("llm timed out", latency_ms=round(latency * 1000))
            error = f"no answer within {self.config.timeout_seconds:g}s"
            return Consultation(LlmOutcome.TIMED_OUT, error=error)
        except (httpx.HTTPError, ReplyError, ValueError) as exc:
            latency = time.perf_counter() - started
            error = self._describe(exc)
            self._log.warning("llm call failed", error=error, latency_ms=round(latency * 1000))
            return Consultation(LlmOutcome.FAILED, error=error)
        self._remember(key, content, self._clock())
        latency = time.perf_counter() - started
        return self._conclude(content, services, networks, cached=False, latency=latency)

    async def _ask(self, question: str) -> str:
        body = {
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system_prompt()},
                {"role": "user", "content": question},
            ],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": False,
        }
        async with asyncio.timeout(self.config.timeout_seconds):
            response = await self._client.post(self._url, json=body)
            if response.status_code >= 400:
                snippet = redact_text(response.text[:200], self._secrets)
                raise ReplyError(f"HTTP {response.status_code}: {snippet}".rstrip(": "))
            return completion_text(response.json())

    def _conclude(
        self,
        content: str,
        services: set[str],
        networks: set[str],
        *,
        cached: bool,
        latency: float,
    ) -> Consultation:
        parsed = parse_reply(content, services=services, networks=networks)
        advice = Advice(
            diagnosis=parsed.diagnosis,
            suggestions=parsed.suggestions,
            dropped=parsed.dropped,
            model=self.config.model,
            cached=cached,
            declined=parsed.declined,
        )
        outcome = LlmOutcome.ADVISED if advice.suggestions else LlmOutcome.NOTHING_VALID
        self._log.info(
            "llm advised" if advice.suggestions else "llm gave nothing usable",
            latency_ms=round(latency * 1000),
            cached=cached,
            kept=len(advice.suggestions),
            dropped=len(advice.dropped),
            dropped_reasons=advice.dropped,
        )
        return Consultation(outcome, advice)

    def _describe(self, exc: Exception) -> str:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.HTTPError) and not isinstance(exc, httpx.HTTPStatusError):
            text = f"{type(exc).__name__}: {text}"
        return redact_text(text, self._secrets)[:300]

    def _forget_old_calls(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - HOUR:
            self._calls.popleft()

    def _cached(self, key: str, now: float) -> str | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, content = entry
        if expires <= now:
            del self._cache[key]
            return None
        return content

    def _remember(self, key: str, content: str, now: float) -> None:
        for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[stale]
        while len(self._cache) >= MAX_CACHE_ENTRIES:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = (now + self.config.cache_seconds, content)


__all__ = ["Advice", "Consultation", "LlmAdviser", "LlmOutcome"]
