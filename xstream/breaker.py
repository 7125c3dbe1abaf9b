"""A circuit breaker per target, pure (no asyncio, no aiohttp): the runner asks it before a batch.

    closed ──(failure_threshold consecutive failures)──> open ──(reset_after_s elapsed)──> half_open
      ^                                                   ^                                   │
      └────────────────(the trial succeeds)───────────────┼───────────────────────────────────┤
                                                          └─────────(the trial fails)─────────┘

- **closed**: every call is allowed; consecutive transient failures are counted, a success resets
  the count. The circuit opens when ``failure_threshold`` failures in a row have been seen *and*
  they span at least ``failure_window_s`` (no success for that long): with many calls in flight, a
  target that fails one call in four still produces five failures in a row now and then, and
  opening then would stop a target that works.
- **open**: nothing is allowed until ``reset_after_s`` has passed since the circuit opened; then the
  first :meth:`CircuitBreaker.allow` moves to half-open and lets exactly one trial through.
- **half_open**: one trial is out; further calls are refused until its outcome is recorded. Its
  success closes the circuit, its failure re-opens it for another ``reset_after_s``. A trial whose
  outcome is never recorded (its caller died) is given up after ``reset_after_s`` and another
  trial is let through, so the breaker cannot stay half-open for ever.

Only *transient* failures (timeouts, 5xx, backpressure) should be recorded as failures: a rejected
record says nothing about the target's health. A success recorded while open (a call started
before the circuit opened) closes the circuit too: the target answered. A failure recorded while
open changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from xstream.settings import BreakerSettings


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


StateListener = Callable[[BreakerState, BreakerState], None]
"""Called with (old, new) on every state change, e.g. to set a metric or log."""


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_after_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        failure_window_s: float = 0.0,
        on_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s <= 0:
            raise ValueError("reset_after_s must be positive")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self.failure_window_s = failure_window_s
        self._clock = clock
        self._failing_since: float | None = None
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_until: float | None = None
        self._trial_since: float | None = None

    @classmethod
    def from_settings(
        cls,
        settings: BreakerSettings,
        clock: Callable[[], float] = time.monotonic,
        *,
        on_change: StateListener | None = None,
    ) -> CircuitBreaker:
        return cls(settings.failure_threshold, settings.reset_after_s, clock,
                   failure_window_s=settings.failure_window_s, on_change=on_change)

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (while closed)."""
        return self._failures

    @property
    def opened_until(self) -> float | None:
        """Clock time when an open circuit lets a trial through; None unless open."""
        return self._opened_until if self._state is BreakerState.OPEN else None

    def retry_in(self) -> float:
        """Seconds until :meth:`allow` can say yes again (0 when it may say yes now)."""
        now = self._clock()
        if self._state is BreakerState.OPEN:
            assert self._opened_until is not None
            return max(0.0, self._opened_until - now)
        if self._state is BreakerState.HALF_OPEN and self._trial_since is not None:
            return max(0.0, self._trial_since + self.reset_after_s - now)
        return 0.0

    def allow(self) -> bool:
        """May a call go to the target now? In half-open state only the one trial gets a yes."""
        now = self._clock()
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            assert self._opened_until is not None
            if now < self._opened_until:
                return False
            self._set(BreakerState.HALF_OPEN)
            self._opened_until = None
            self._trial_since = now
            return True
        # half-open: one trial at a time; a trial lost without an outcome is replaced after a while
        if self._trial_since is not None and now < self._trial_since + self.reset_after_s:
            return False
        self._trial_since = now
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._failing_since = None
        self._opened_until = None
        self._trial_since = None
        self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        if self._state is BreakerState.OPEN:
            return
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        now = self._clock()
        if self._failures == 0:
            self._failing_since = now
        self._failures += 1
        since = self._failing_since if self._failing_since is not None else now
        if self._failures >= self.failure_threshold and now - since >= self.failure_window_s:
            self._open()

    def reset(self) -> None:
        """Back to closed with no failures counted (e.g. an operator's manual reset)."""
        self.record_success()

    def _open(self) -> None:
        self._opened_until = self._clock() + self.reset_after_s
        self._trial_since = None
        self._failures = 0
        self._failing_since = None
        self._set(BreakerState.OPEN)

    def _set(self, state: BreakerState) -> None:
        old, self._state = self._state, state
        if old is not state and self._on_change is not None:
            self._on_change(old, state)

    def __repr__(self) -> str:
        return (f"CircuitBreaker(state={self._state.value}, failures={self._failures}/{self.failure_threshold}, "
                f"retry_in={self.retry_in():.1f}s)")
