"""What the sink tests share: their state (ledger, effect ledger) on the in-memory Kafka log.

A store is loaded for every partition before use, as the runner does on partition assignment; a
second store over the same log, loaded afterwards, is a second worker or a new deployment: it sees
what the first one wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from pydantic import TypeAdapter

from tests.support.memory_log import MemoryLog, Stored
from xstream.sinks.effects import EffectEntry
from xstream.sinks.ledger import LedgerEntry
from xstream.streams.state import PartitionedStore, default_partition

LEDGER_TOPIC = "xstream.ledger"
EFFECTS_TOPIC = "xstream.effects"


async def ledger_store(log: MemoryLog) -> PartitionedStore[LedgerEntry]:
    store = PartitionedStore(publisher=log, reader=log, topic=LEDGER_TOPIC, prefix="opentext:",
                             adapter=TypeAdapter(LedgerEntry))
    await store.load(range(log.partition_count))
    return store


async def effect_store(log: MemoryLog, target: str) -> PartitionedStore[EffectEntry]:
    store = PartitionedStore(publisher=log, reader=log, topic=EFFECTS_TOPIC, prefix=f"{target}:",
                             adapter=TypeAdapter(EffectEntry))
    await store.load(range(log.partition_count))
    return store


def partition_of(kafka_key: str, log: MemoryLog) -> int:
    """The partition the command with this key is produced to (and its state written to)."""
    return default_partition(kafka_key.encode(), log.partition_count)


async def assert_pending_until_delivered(log: MemoryLog, barrier: Awaitable[Any]) -> None:
    """``barrier`` (a store's barrier for a partition) waits for the broker's ack, then resolves."""
    waiting = asyncio.ensure_future(barrier)
    for _ in range(3):
        await asyncio.sleep(0)  # let it run: it must still be waiting for the delivery
    assert not waiting.done(), "the state write was not waited for"
    log.deliver_all()
    await asyncio.wait_for(waiting, 2)


def only(records: list[Stored]) -> Stored:
    assert len(records) == 1, records
    return records[0]

