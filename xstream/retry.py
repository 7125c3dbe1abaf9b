"""The one retry policy: exponential backoff with full jitter, bounded by attempts and a deadline.

Nothing else in xstream sleeps to retry. A target's ``Retry-After`` is honoured: the wait is never
shorter than what the target asked for (but still bounded by the deadline).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from xstream.errors import SinkUnavailable
from xstream.settings import RetrySettings

T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int
    base_delay_s: float
    max_delay_s: float
    deadline_s: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random
    """Uniform in [0, 1); injected by tests."""
    monotonic: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(settings.attempts, settings.base_delay_s, settings.max_delay_s, settings.deadline_s)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]; at least ``retry_after``."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2.0 ** attempt))
        jittered = self.jitter() * ceiling
        return max(jittered, retry_after or 0.0)

    def start(self) -> Attempts:
        return Attempts(self, started=self.monotonic())


    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` until it succeeds or the budget is spent: retriable errors (``SinkUnavailable``:
        timeouts, 5xx, Retry-After) are tried again after the backoff; anything else, and the last
        retriable error, is raised. For callers that must not give up a whole unit of work on one
        transient error (a poller cycle of dozens of calls)."""
        attempts = self.start()
        while True:
            try:
                return await call()
            except SinkUnavailable as exc:
                if not await attempts.backoff(getattr(exc, "retry_after", None)):
                    raise


@dataclass
class Attempts:
    """One operation's retry budget: ``await attempts.backoff(retry_after)`` is False once it is spent."""

    policy: RetryPolicy
    started: float
    made: int = field(default=1)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.policy.deadline_s - (self.policy.monotonic() - self.started))

    async def backoff(self, retry_after: float | None = None) -> bool:
        if self.made >= self.policy.attempts:
            return False
        wait = self.policy.delay(self.made - 1, retry_after)
        if self.policy.monotonic() - self.started + wait > self.policy.deadline_s:
            return False
        await self.policy.sleep(wait)
        self.made += 1
        return True

