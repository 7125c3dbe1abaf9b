"""Waiting on a condition (never a fixed sleep): the one polling helper of the unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Until ``condition()`` holds; TimeoutError after ``timeout_s`` (the condition is on state the test
    does not own, e.g. what a loop published, so there is no event to wait for)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - a condition on state owned by the code under test
            await asyncio.sleep(0.005)


async def until_true(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0, every_s: float = 0.1) -> None:
    """As :func:`until`, for a condition that must itself be awaited (e.g. a question to the broker)."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - a condition on state owned by the code under test
            await asyncio.sleep(every_s)
