"""Per-organization rate limits for endpoints that cost the server CPU but the client nothing.

Refusals are the real API's 429 (`{"error": ...}`, which the SDKs raise as RateLimitError and retry
after `Retry-After`). Counts live in the process: a cluster of servers allows each its own share.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from taxiway.api.errors import ApiError


def _refusal(message: str, retry_after: int) -> ApiError:
    error = ApiError(429, message)
    error.headers = {"Retry-After": str(max(1, retry_after))}
    return error


@dataclass
class SlidingWindow:
    """At most `limit` calls per key in any `seconds`-long window, and `concurrent` at once."""

    limit: int
    seconds: float
    concurrent: int
    what: str  # for the message, e.g. "voice previews"
    clock: Callable[[], float] = time.monotonic
    _calls: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _running: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def acquire(self, key: str) -> None:
        """Count a call for `key`, or raise ApiError(429) with Retry-After; pair with `release`."""
        now = self.clock()
        calls = self._calls[key]
        while calls and calls[0] <= now - self.seconds:
            calls.popleft()
        if self._running[key] >= self.concurrent:
            raise _refusal(
                f"Too many {self.what} at once: at most {self.concurrent} run together per organization. "
                "Retry when one has finished.",
                1,
            )
        if len(calls) >= self.limit:
            wait = math.ceil(calls[0] + self.seconds - now)
            raise _refusal(
                f"Rate limit exceeded: at most {self.limit} {self.what} per {self.seconds:g} seconds per "
                f"organization. Retry in {wait} s.",
                wait,
            )
        calls.append(now)
        self._running[key] += 1

    def release(self, key: str) -> None:
        self._running[key] -= 1
        if self._running[key] <= 0:
            del self._running[key]
        if not self._calls[key]:
            del self._calls[key]
