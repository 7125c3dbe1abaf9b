"""An in-memory Kafka log for unit tests of the stream engine, sinks and flows: no broker.

It is the two ports the product uses to reach Kafka, implemented faithfully enough for the logic
under test: :class:`~xstream.ports.Publisher` (records appended per topic partition, partitions
chosen by Kafka's default partitioner, headers kept, deliveries that resolve when the test says
so or at once) and :class:`~xstream.streams.state.LogReader` (partitions read from an offset to
their end). Integration tests use the real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from xstream.ports import Header
from xstream.streams.state import default_partition


@dataclass(frozen=True)
class Stored:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]

    def json(self) -> Any:
        return orjson.loads(self.value) if self.value is not None else None


@dataclass
class MemoryLog:
    partition_count: int = 4
    auto_deliver: bool = True
    """False: deliveries stay pending until :meth:`deliver_all` (or fail with :meth:`fail_all`)."""
    topics: dict[str, list[list[Stored]]] = field(default_factory=dict)
    pending: list[tuple[asyncio.Future[Any], Stored]] = field(default_factory=list)
    refuse: type[BaseException] | None = None
    """When set, every publish's delivery fails with this error (the broker refuses)."""

    def _log(self, topic: str) -> list[list[Stored]]:
        return self.topics.setdefault(topic, [[] for _ in range(self.partition_count)])

    async def publish(self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None,
                      idempotency_key: str | None = None, headers: Sequence[Header] = ()) -> Awaitable[Any]:
        log = self._log(topic)
        chosen = partition if partition is not None else default_partition(key or b"", self.partition_count)
        sent = (("xstream-origin", b"xstream"), *headers,
                *((("xstream-idempotency-key", idempotency_key.encode()),) if idempotency_key else ()))
        stored = Stored(topic, chosen, len(log[chosen]), key, value, tuple(sent))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refuse is not None:
            future.set_exception(self.refuse("refused by the test"))
            return future
        log[chosen].append(stored)
        if self.auto_deliver:
            future.set_result(stored)
        else:
            self.pending.append((future, stored))
        return future

    async def partitions(self, topic: str) -> int:
        return self.partition_count

    def deliver_all(self) -> None:
        for future, stored in self.pending:
            if not future.done():
                future.set_result(stored)
        self.pending.clear()

    def fail_all(self, error: BaseException) -> None:
        for future, _ in self.pending:
            if not future.done():
                future.set_exception(error)
        self.pending.clear()

    def records(self, topic: str) -> list[Stored]:
        return [r for part in self._log(topic) for r in part]

    def values(self, topic: str) -> list[Any]:
        return [r.json() for r in sorted(self.records(topic), key=lambda r: (r.partition, r.offset))]

    async def read(self, topic: str, starts: dict[int, int | None], *,
                   recheck_s: float) -> tuple[list[tuple[int, bytes | None, bytes | None]], dict[int, int]]:
        log = self._log(topic)
        out: list[tuple[int, bytes | None, bytes | None]] = []
        ends: dict[int, int] = {}
        for partition, start in starts.items():
            records = log[partition][start or 0:]
            out.extend((partition, r.key, r.value) for r in records)
            ends[partition] = len(log[partition])
        return out, ends
