"""Keyed state per partition: read back by the next owner, brought up to date incrementally, written durably."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, TypeAdapter

from tests.support.memory_log import MemoryLog
from xstream.errors import ConfigError
from xstream.streams.state import PartitionedStore, default_partition


class Entry(BaseModel):
    n: int


def store(log: MemoryLog, prefix: str = "t:") -> PartitionedStore[Entry]:
    return PartitionedStore(publisher=log, reader=log, topic="state", prefix=prefix, adapter=TypeAdapter(Entry))


async def test_what_one_worker_wrote_the_next_owner_reads_and_only_its_prefix() -> None:
    log = MemoryLog()
    first, other = store(log), store(log, prefix="other:")
    await first.load([0, 1, 2, 3])
    await other.load([0])
    p = first.partition_for("SAP/KNA1/1")
    assert p == default_partition(b"SAP/KNA1/1", 4)
    await (await first.put("a", Entry(n=1), partition=p))
    await (await first.put("a", Entry(n=2), partition=p))
    await (await other.put("a", Entry(n=99), partition=p))
    await (await first.put("gone", Entry(n=5), partition=p))
    await (await first.put("gone", None, partition=p))
    second = store(log)
    await second.load([p])
    assert second.get("a", p) == Entry(n=2) and second.get("gone", p) is None
    assert [k for k, _ in second.items(p)] == ["a"]


async def test_a_partition_kept_is_read_only_from_where_this_worker_stopped() -> None:
    log = MemoryLog()
    mine, theirs = store(log), store(log)
    await mine.load([0])
    await theirs.load([0])
    await (await mine.put("k", Entry(n=1), partition=0))
    await (await theirs.put("k", Entry(n=2), partition=0))  # another owner wrote meanwhile
    await mine.load([0])
    assert mine.get("k", 0) == Entry(n=2)
    mine.forget([0])
    assert mine.get("k", 0) is None and len(mine) == 0


async def test_local_state_is_visible_at_once_and_durable_only_when_written() -> None:
    log = MemoryLog(auto_deliver=False)
    s = store(log)
    await s.load([0])
    s.set_local("k", Entry(n=3), partition=0)
    assert s.get("k", 0) == Entry(n=3) and log.records("state") == []
    write = await s.write("k", Entry(n=3), partition=0)
    barrier = s.barrier(0)
    assert not write.done()  # type: ignore[attr-defined]
    log.deliver_all()
    await barrier
    assert log.values("state") == [{"n": 3}]


async def test_a_store_must_have_as_many_partitions_as_its_input() -> None:
    with pytest.raises(ConfigError, match="co-partitioned"):
        await store(MemoryLog(partition_count=4)).load([0], input_partitions=8)


async def test_clean_state_is_kept_aside_over_a_rebalance_and_unwritten_local_state_is_not() -> None:
    log = MemoryLog()
    s = store(log)
    await s.load([0, 1])
    await (await s.put("kept", Entry(n=1), partition=0))
    s.set_local("abandoned", Entry(n=7), partition=1)  # its write never went out (the work was cancelled)
    s.release([0, 1])
    assert s.get("kept", 0) == Entry(n=1), "a clean partition is kept aside"
    assert s.get("abandoned", 1) is None, "local state that never became durable is not kept"
    s.retain([1])
    assert s.get("kept", 0) is None, "kept aside only while it may come back"
