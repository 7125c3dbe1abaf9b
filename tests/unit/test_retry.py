"""The one retry policy: full-jitter backoff, Retry-After honoured, attempts and deadline enforced."""

from __future__ import annotations

from xstream.retry import RetryPolicy


def policy(**kw) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    defaults = dict(attempts=5, base_delay_s=1.0, max_delay_s=8.0, deadline_s=100.0)
    return RetryPolicy(**{**defaults, **kw}, sleep=sleep, jitter=lambda: 1.0, monotonic=lambda: clock[0]), slept


async def test_backoff_doubles_up_to_the_cap_then_the_attempts_run_out() -> None:
    p, slept = policy()
    attempts = p.start()
    results = [await attempts.backoff() for _ in range(5)]
    assert results == [True, True, True, True, False]
    assert slept == [1.0, 2.0, 4.0, 8.0]


async def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    p, _ = policy()
    p.jitter = lambda: 0.25
    assert p.delay(3) == 2.0  # 0.25 * min(8, 1 * 2**3)


async def test_retry_after_is_a_floor() -> None:
    p, slept = policy()
    assert await p.start().backoff(retry_after=6.5)
    assert slept == [6.5]


async def test_deadline_stops_retrying_before_sleeping_past_it() -> None:
    p, slept = policy(deadline_s=5.0)
    attempts = p.start()
    assert await attempts.backoff()          # t=1
    assert await attempts.backoff()          # t=3
    assert not await attempts.backoff()      # 3 + 4 > 5
    assert slept == [1.0, 2.0]


async def test_run_retries_retriable_errors_honours_retry_after_and_raises_the_rest() -> None:
    import pytest

    from xstream.errors import SinkBackpressure, SinkRejected, SinkUnavailable

    retry, slept = policy(attempts=4)
    answers: list[Exception | str] = [SinkUnavailable("503"), SinkBackpressure("429", retry_after=5.0), "ok"]

    async def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await retry.run(call) == "ok" and slept == [1.0, 5.0]
    answers[:] = [SinkRejected("400")]
    with pytest.raises(SinkRejected):
        await retry.run(call)
    retry, slept = policy(attempts=2)
    answers[:] = [SinkUnavailable("a"), SinkUnavailable("b")]
    with pytest.raises(SinkUnavailable, match="b"):
        await retry.run(call)
