"""A consumer over :class:`~tests.support.memory_log.MemoryLog`, with the part of aiokafka's consumer
API the stream loop uses, for unit tests of the loop and its processors without a broker.

The test decides the group's assignment (:meth:`MemoryConsumer.rebalance` runs the listener's
revoke and assign callbacks as aiokafka does, revoking everything first) and can make a fetch skip
offsets (:attr:`hide`), as the embedded broker does at the tail.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from tests.support.memory_log import MemoryLog


@dataclass
class MemoryConsumer:
    log: MemoryLog
    group_commits: dict[TopicPartition, int] = field(default_factory=dict)
    hide: dict[TopicPartition, set[int]] = field(default_factory=dict)
    """Offsets a fetch does not show (once each): the embedded broker's tail race."""
    listener: Any = None
    topics: list[str] = field(default_factory=list)
    _assigned: set[TopicPartition] = field(default_factory=set)
    _paused: set[TopicPartition] = field(default_factory=set)
    _positions: dict[TopicPartition, int] = field(default_factory=dict)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    started: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics, self.listener = list(topics), listener

    async def rebalance(self, assigned: set[TopicPartition]) -> None:
        """As aiokafka's eager protocol: revoke everything (still assigned, so commits work), then assign."""
        revoked = set(self._assigned)
        await self.listener.on_partitions_revoked(revoked)
        self._paused -= revoked
        self._assigned = set(assigned)
        for tp in assigned:
            self._positions[tp] = self.group_commits.get(tp, 0)
        await self.listener.on_partitions_assigned(set(assigned))

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def position(self, tp: TopicPartition) -> int:
        return self._positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self._assigned, "Partition is not assigned"
        return len(self.log._log(tp.topic)[tp.partition])

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert all(tp in self._assigned for tp in offsets), "commit of a partition not assigned"
        self.commits.append(dict(offsets))
        self.group_commits.update(offsets)

    async def getmany(self, *, timeout_ms: int = 0, max_records: int | None = None
                      ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        out: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for tp in sorted(self._assigned - self._paused):
            stored = self.log._log(tp.topic)[tp.partition][self._positions[tp]:][: max_records or 500]
            hidden = self.hide.get(tp, set())
            batch = []
            for r in stored:
                if r.offset in hidden:
                    hidden.discard(r.offset)
                    continue
                batch.append(ConsumerRecord(r.topic, r.partition, r.offset, 0, 0, r.key, r.value, None,
                                            len(r.key or b""), len(r.value or b""), list(r.headers)))
            if batch:
                out[tp] = batch
                self._positions[tp] = batch[-1].offset + 1
        if not out:
            await asyncio.sleep(timeout_ms / 1000 / 10)
        return out
