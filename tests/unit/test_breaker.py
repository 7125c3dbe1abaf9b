"""The circuit breaker's state machine with a fake clock: what the runner relies on to pause a target."""

from __future__ import annotations

import pytest

from xstream.breaker import BreakerState, CircuitBreaker
from xstream.settings import BreakerSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def breaker(clock: FakeClock, threshold: int = 3, reset_after_s: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker(threshold, reset_after_s, clock)


def test_closed_allows_and_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    b = breaker(clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.CLOSED and b.failures == 2
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.opened_until == pytest.approx(110.0)
    assert b.retry_in() == pytest.approx(10.0)


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    b = breaker(clock)
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    assert b.opened_until is None and b.retry_in() == 0.0


def test_open_refuses_until_reset_after_then_lets_exactly_one_trial_through(clock: FakeClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 9.9
    assert not b.allow()
    assert b.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert b.allow()
    assert b.state is BreakerState.HALF_OPEN
    assert not b.allow()
    assert not b.allow()


def test_half_open_success_closes(clock: FakeClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert all(b.allow() for _ in range(5))


def test_half_open_failure_reopens_for_another_full_period(clock: FakeClock) -> None:
    b = breaker(clock, threshold=3)
    for _ in range(3):
        b.record_failure()
    clock.now += 10
    assert b.allow()
    b.record_failure()  # a single failure in half-open re-opens, whatever the threshold
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.opened_until == pytest.approx(clock.now + 10)
    clock.now += 10
    assert b.allow() and b.state is BreakerState.HALF_OPEN


def test_a_failure_while_open_does_not_extend_the_open_period(clock: FakeClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 5
    b.record_failure()  # the outcome of a call started before the circuit opened
    assert b.opened_until == pytest.approx(110.0)


def test_a_lost_trial_is_replaced_after_reset_after(clock: FakeClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    clock.now += 10
    assert b.allow()
    clock.now += 9
    assert not b.allow()
    assert b.retry_in() == pytest.approx(1.0)
    clock.now += 1
    assert b.allow()  # the first trial never reported: a new one may go


def test_from_settings_and_state_listener(clock: FakeClock) -> None:
    seen: list[tuple[BreakerState, BreakerState]] = []
    b = CircuitBreaker.from_settings(BreakerSettings(failure_threshold=2, reset_after_s=1.5, failure_window_s=0), clock,
                                     on_change=lambda old, new: seen.append((old, new)))
    assert (b.failure_threshold, b.reset_after_s) == (2, 1.5)
    b.record_failure()
    b.record_failure()
    clock.now += 1.5
    b.allow()
    b.record_success()
    b.record_success()  # no change, no call
    assert seen == [(BreakerState.CLOSED, BreakerState.OPEN), (BreakerState.OPEN, BreakerState.HALF_OPEN),
                    (BreakerState.HALF_OPEN, BreakerState.CLOSED)]


def test_reset_closes(clock: FakeClock) -> None:
    b = breaker(clock, threshold=1)
    b.record_failure()
    b.reset()
    assert b.state is BreakerState.CLOSED and b.allow()


@pytest.mark.parametrize(("threshold", "reset_after_s"), [(0, 1.0), (1, 0.0)])
def test_invalid_parameters(threshold: int, reset_after_s: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold, reset_after_s)


def test_failures_in_a_row_open_only_when_no_call_succeeded_for_the_window(clock: FakeClock) -> None:
    b = CircuitBreaker(3, 30.0, clock, failure_window_s=1.0)
    for _ in range(10):  # a burst: ten failures within a moment, then a success
        b.record_failure()
        clock.now += 0.01
    assert b.state is BreakerState.CLOSED
    b.record_success()
    b.record_failure()
    clock.now += 0.6
    b.record_failure()
    clock.now += 0.5
    b.record_failure()  # three in a row, over 1.1 s without a success: the target is down
    assert b.state is BreakerState.OPEN


def test_a_target_that_answers_three_calls_in_four_never_opens(clock: FakeClock) -> None:
    import random

    rng = random.Random(7)
    b = CircuitBreaker(5, 30.0, clock, failure_window_s=1.0)
    for _ in range(100_000):
        clock.now += 0.002  # 500 calls per second
        if rng.random() < 0.25:
            b.record_failure()
        else:
            b.record_success()
        assert b.state is BreakerState.CLOSED
