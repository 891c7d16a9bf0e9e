"""Failed dashboard logins, counted per client, so guessing the token is slow."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_CLIENTS = 4096


class LoginThrottle:
    """At most ``attempts`` failed logins per client within ``window`` seconds."""

    def __init__(self, attempts: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Seconds this client must wait before trying again; None when it may try now."""
        failures = self._recent(client)
        if len(failures) < self._attempts:
            return None
        return max(1, int(failures[0] + self._window - self._clock()) + 1)

    def failed(self, client: str) -> int:
        """Count a failed login; return how many this client made within the window."""
        if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
            self._forget_idle()
        failures = self._recent(client)
        failures.append(self._clock())
        self._failures[client] = failures
        return len(failures)

    def succeeded(self, client: str) -> None:
        """A good login clears the client's count."""
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client) or deque()
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def _forget_idle(self) -> None:
        horizon = self._clock() - self._window
        for client in [c for c, f in self._failures.items() if not f or f[-1] <= horizon]:
            del self._failures[client]
        while len(self._failures) >= MAX_CLIENTS:
            self._failures.pop(next(iter(self._failures)))
