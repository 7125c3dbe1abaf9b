"""Per-business-object order inside a batch, shared by every sink.

Commands of different business objects run concurrently (up to the sink's limit); commands of one
object run in order. Once one of them ends unfinished (a transient failure), that object's later
commands are left unfinished too, so the runner's retry keeps them in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from xstream.model.results import SinkResult


class Keyed(Protocol):
    @property
    def kafka_key(self) -> str: ...


C = TypeVar("C", bound=Keyed)


async def apply_in_order(batch: Sequence[C], apply: Callable[[C], Awaitable[SinkResult]],
                         limit: asyncio.Semaphore) -> list[SinkResult]:
    """One result per command, in the batch's order."""
    results: dict[int, SinkResult] = {}
    chains: dict[str, list[int]] = {}
    for index, command in enumerate(batch):
        chains.setdefault(command.kafka_key, []).append(index)

    async def run_chain(indexes: list[int]) -> None:
        for position, index in enumerate(indexes):
            async with limit:
                results[index] = await apply(batch[index])
            if not results[index].finished:
                for later in indexes[position + 1:]:
                    results[later] = SinkResult.transient("an earlier command for this object is unfinished")
                return

    await asyncio.gather(*(run_chain(indexes) for indexes in chains.values()))
    return [results[i] for i in range(len(batch))]
