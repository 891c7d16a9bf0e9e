"""Opt-in triage of a new log burst by the OpenAI-compatible endpoint of ``recovery.llm``.

The model gets the rule, the fingerprint's first line and count and the container's
recent lines, all redacted, and must answer one JSON object: ``summary``, ``cause``,
``next_step``, ``severity`` (info / warning / critical) and ``confidence`` (0 to 1).
Verdicts are cached by fingerprint; calls are capped per rolling day. Whatever goes wrong
(no answer, an error status, text that is not such an object) gives no verdict, and the
reason is what the notice says instead (and what the log records).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Literal

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackmedic.logwatch.config import TriageConfig
from stackmedic.logwatch.tally import Fingerprint
from stackmedic.recovery.config import LlmConfig
from stackmedic.recovery.llm_parse import ReplyError, completion_text
from stackmedic.redact import redact_text

log = structlog.get_logger(__name__)

DAY = 86400.0
MAX_LINE = 500
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

SYSTEM_PROMPT = """\
You triage error bursts in the logs of Docker Compose services for stackmedic.
You get one log-pattern burst as JSON: the rule that matched, the service, the first line
of the burst, how many lines of it there were, and the service's recent lines. Secrets in
it are replaced by ****. Answer with exactly one JSON object and nothing else:
{"summary": "...", "cause": "...", "next_step": "...", "severity": "info|warning|critical",
 "confidence": 0.0}
summary: one sentence of what is happening. cause: the most likely cause. next_step: the
one thing a person should check or do first. confidence: from 0 to 1.
"""


class TriageVerdict(BaseModel):
    """What the model made of a burst."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=500)
    cause: str = Field(min_length=1, max_length=500)
    next_step: str = Field(min_length=1, max_length=500)
    severity: Literal["info", "warning", "critical"]
    confidence: float = Field(ge=0, le=1)


def read_verdict(text: str) -> TriageVerdict:
    """The verdict in the model's text; ValueError naming what is wrong otherwise."""
    text = _THINK.sub("", text).strip()
    found = _OBJECT.search(text)
    if found is None:
        raise ValueError("the answer holds no JSON object")
    try:
        data = json.loads(found.group(0))
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer's JSON does not parse: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("severity"), str):
        data["severity"] = data["severity"].strip().lower()
    try:
        return TriageVerdict.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "answer" for e in exc.errors())
        raise ValueError(f"the answer's verdict is invalid ({fields})") from None


class LogTriage:
    """Asks the configured endpoint for a verdict on a burst, within budget and cache."""

    def __init__(self, config: TriageConfig, llm: LlmConfig, *, secrets: Iterable[str] = (),
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.llm = llm
        key = llm.api_key.get_secret_value() if llm.api_key else ""
        self._secrets = [s for s in (*secrets, key) if s]
        self._url = str(llm.url).rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(transport=transport, headers=headers,
                                         timeout=config.timeout_seconds)
        self._clock = clock
        self._calls: deque[float] = deque()
        self.last_error = ""
        self.asked = 0

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def calls_left(self) -> int:
        """Calls the daily budget still allows now."""
        now = self._clock()
        while self._calls and self._calls[0] <= now - DAY:
            self._calls.popleft()
        return self.config.max_calls_per_day - len(self._calls)

    async def triage(self, item: Fingerprint,
                     recent: list[str]) -> tuple[dict[str, object] | None, str]:
        """A verdict (from the cache when fresh) or None and why not."""
        cached = item.triage
        if cached and self._clock() - float(str(cached.get("at", 0))) < \
                self.config.cache_hours * 3600:
            return {**cached, "cached": True}, ""
        if self.calls_left() <= 0:
            return None, self._refused(f"daily budget of {self.config.max_calls_per_day} "
                                       "triage calls spent")
        self._calls.append(self._clock())
        self.asked += 1
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                text = await self._ask(self._question(item, recent))
            verdict = read_verdict(text)
        except (TimeoutError, httpx.TimeoutException):
            return None, self._refused(f"no answer within {self.config.timeout_seconds:g}s")
        except (httpx.HTTPError, ReplyError, ValueError) as exc:
            return None, self._refused(redact_text(str(exc) or type(exc).__name__,
                                                   self._secrets)[:300])
        return {**verdict.model_dump(), "model": self.llm.model, "at": self._clock()}, ""

    def _refused(self, reason: str) -> str:
        self.last_error = reason
        log.warning("log triage gave no verdict", reason=reason)
        return f"none ({reason})"

    def _question(self, item: Fingerprint, recent: list[str]) -> str:
        def clean(text: str) -> str:
            return redact_text(text[:MAX_LINE], self._secrets)

        burst: dict[str, Any] = {
            "rule": item.rule, "service": item.service, "deployment": item.deployment,
            "first_line": clean(item.first_line), "count": item.count,
            "recent_lines": [clean(line) for line in recent[-self.config.sample_lines:]],
        }
        return json.dumps(burst, ensure_ascii=False)

    async def _ask(self, question: str) -> str:
        body = {
            "model": self.llm.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": question}],
            "temperature": self.llm.temperature, "max_tokens": self.llm.max_tokens,
            "stream": False,
        }
        response = await self._client.post(self._url, json=body)
        if response.status_code >= 400:
            snippet = redact_text(response.text[:200], self._secrets)
            raise ReplyError(f"HTTP {response.status_code}: {snippet}".rstrip(": "))
        return completion_text(response.json())
