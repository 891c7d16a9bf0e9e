"""Wrong API tokens, counted per client: 429 past the limit, one event per burst."""

from __future__ import annotations

import time
from collections.abc import Callable

from stackmedic.web.throttle import MAX_CLIENTS, LoginThrottle

# Called once when a client's burst of wrong tokens starts being refused:
# (client, wrong tokens within the window, seconds it must wait).
BurstRecorder = Callable[[str, int, int], None]


class TokenThrottle:
    """At most ``attempts`` wrong tokens per client within ``window`` seconds, then 429.

    Only wrong tokens are counted and refused: a right token is checked first and always
    passes, so a broken script sending an old token from the same address (or through the
    same reverse proxy) never locks out the CLI or Grafana. A burst is the run of refusals
    from one client until it has been quiet for a whole window; it is recorded once.
    """

    def __init__(self, attempts: int, window: float, record: BurstRecorder,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._counts = LoginThrottle(attempts, window, clock)
        self._attempts = attempts
        self._window = window
        self._record = record
        self._clock = clock
        self._bursts: dict[str, float] = {}  # client -> its last refusal

    def wrong_token(self, client: str) -> int | None:
        """Count a wrong token; the seconds for ``Retry-After`` when it is refused (429)."""
        wait = self._counts.retry_after(client)
        if wait is None:
            self._counts.failed(client)
            return None  # under the limit: this one gets 401
        now = self._clock()
        last = self._bursts.get(client)
        if last is None or now - last > self._window:
            self._forget_quiet(now)
            self._record(client, self._attempts, wait)
        self._bursts[client] = now
        return wait

    def _forget_quiet(self, now: float) -> None:
        if len(self._bursts) < MAX_CLIENTS:
            return
        for client in [c for c, last in self._bursts.items() if now - last > self._window]:
            del self._bursts[client]
        while len(self._bursts) >= MAX_CLIENTS:
            self._bursts.pop(next(iter(self._bursts)))
