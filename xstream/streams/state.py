"""Keyed state kept on a compacted topic, co-partitioned with the input it belongs to.

A worker handles some partitions of an input topic (commands, OpenText events); the state that
guards those records (the OpenText ledger, the effect ledger, a flow's memory) lives in the same
partition numbers of a state topic. When partitions are assigned, exactly those partitions of the
state topic are read to their end, so what the previous owner wrote is known before any record is
handled; a partition kept across a rebalance is only read from where this worker stopped.

Writes are local at once (the next record sees them) and durable when their delivery resolves;
``barrier(partition)`` resolves when every write issued so far for a partition is durable, and the
runners wait for it before they acknowledge the record that made the write.

Several stores may share one topic: each keeps only the keys under its ``prefix``. The store's
partition for a record is the input record's partition; a store that is given a routing key
instead (a sink that sees commands, not records) uses Kafka's default partitioner, which is how
the producer of the input chose the partition, so the input and the state topic must have the
same number of partitions (checked when state is loaded).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Collection
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from pydantic import TypeAdapter, ValidationError

from xstream.errors import ConfigError
from xstream.ports import Publisher
from xstream.settings import KafkaSettings
from xstream.streams.gaps import GapGuard

V = TypeVar("V")

log = logging.getLogger(__name__)


def default_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as every Kafka client computes it for a keyed record."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


class PartitionedStore(Generic[V]):
    def __init__(self, *, publisher: Publisher, reader: LogReader, topic: str, prefix: str,
                 adapter: TypeAdapter[V]) -> None:
        self._reader = reader
        self._publisher = publisher
        self.topic = topic
        self._prefix = prefix.encode()
        self._adapter = adapter
        self._values: dict[int, dict[str, V]] = {}
        self._read_to: dict[int, int] = {}
        self._inflight: dict[int, set[asyncio.Future[Any]]] = {}
        self._unwritten: dict[int, int] = {}
        """Per partition, local changes whose durable write was not issued yet (see :meth:`set_local`)."""
        self._partitions: int | None = None
        self._lock = asyncio.Lock()

    # --- reads -----------------------------------------------------------------------------------------

    def get(self, key: str, partition: int) -> V | None:
        return self._values.get(partition, {}).get(key)

    def items(self, partition: int) -> list[tuple[str, V]]:
        return list(self._values.get(partition, {}).items())

    def partition_for(self, route_key: str) -> int:
        """The partition a keyed input record with ``route_key`` was produced to."""
        if self._partitions is None:
            raise RuntimeError(f"state {self.topic}: load() before partition_for()")
        return default_partition(route_key.encode(), self._partitions)

    def __len__(self) -> int:
        return sum(len(values) for values in self._values.values())

    # --- writes ----------------------------------------------------------------------------------------

    def set_local(self, key: str, value: V | None, *, partition: int) -> None:
        """Visible to the next reader at once; not durable until :meth:`write` of this value resolved."""
        values = self._values.setdefault(partition, {})
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        self._unwritten[partition] = self._unwritten.get(partition, 0) + 1

    async def write(self, key: str, value: V | None, *, partition: int) -> Awaitable[Any]:
        """Make ``value`` durable (None: a tombstone) without touching what readers see now; the
        returned delivery resolves when the broker has it."""
        raw = None if value is None else self._adapter.dump_json(value)
        if self._unwritten.get(partition, 0) > 0:
            self._unwritten[partition] -= 1
        delivery = await self._publisher.publish(self.topic, self._prefix + key.encode(), raw, partition=partition)
        future = asyncio.ensure_future(delivery)
        pending = self._inflight.setdefault(partition, set())
        pending.add(future)
        future.add_done_callback(pending.discard)
        return future

    async def put(self, key: str, value: V | None, *, partition: int) -> Awaitable[Any]:
        """Set (or with None delete) ``key``: visible now, durable when the returned delivery resolves."""
        self.set_local(key, value, partition=partition)
        return await self.write(key, value, partition=partition)

    def barrier(self, partition: int) -> Awaitable[None]:
        pending = list(self._inflight.get(partition, ()))
        return _all(pending)

    # --- partitions ------------------------------------------------------------------------------------

    async def load(self, partitions: Collection[int], *, input_partitions: int | None = None,
                   recheck_s: float = 0.0) -> None:
        """Bring these partitions up to the topic's end; ``input_partitions`` is checked against the topic."""
        async with self._lock:
            count = await self._publisher.partitions(self.topic)
            if input_partitions is not None and input_partitions != count:
                raise ConfigError(f"state topic {self.topic} has {count} partitions, its input has "
                                  f"{input_partitions}: they must be equal (co-partitioned)")
            self._partitions = count
            wanted = sorted(set(partitions))
            if not wanted:
                return
            for partition in wanted:
                await self.barrier(partition)  # our own writes are in the log before it is read back
            started = time.monotonic()
            read = await self._read(wanted, recheck_s)
            log.info("state loaded", extra={"topic": self.topic, "partitions": wanted, "records": read,
                                            "keys": sum(len(self._values.get(p, {})) for p in wanted),
                                            "seconds": round(time.monotonic() - started, 3)})

    def forget(self, partitions: Collection[int]) -> None:
        """Drop these partitions' state entirely (read from the beginning if they come back)."""
        for partition in partitions:
            self._values.pop(partition, None)
            self._read_to.pop(partition, None)
            self._unwritten.pop(partition, None)

    def release(self, partitions: Collection[int]) -> None:
        """These partitions are no longer handled here. Their state is kept aside when every local
        change was written (a re-assignment then reads only what others wrote since); a partition with
        local changes never written (abandoned work) is forgotten, so it is read back as it is durable."""
        self.forget([p for p in partitions if self._unwritten.get(p, 0) > 0])

    def retain(self, partitions: Collection[int]) -> None:
        """Only these partitions are handled here now: state kept aside for any other is dropped."""
        self.forget([p for p in list(self._values) + list(self._read_to) if p not in set(partitions)])

    async def _read(self, partitions: list[int], recheck_s: float) -> int:
        records, ends = await self._reader.read(self.topic, {p: self._read_to.get(p) for p in partitions},
                                                recheck_s=recheck_s)
        for partition, key, value in records:
            self._take(partition, key, value)
        self._read_to.update(ends)
        return len(records)

    def _take(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        if key is None or not key.startswith(self._prefix):
            return
        name = key[len(self._prefix):].decode("utf-8", "replace")
        values = self._values.setdefault(partition, {})
        if value is None:
            values.pop(name, None)
            return
        try:
            values[name] = self._adapter.validate_json(value)
        except ValidationError as exc:
            log.warning("state entry unreadable; ignored", extra={"topic": self.topic, "key": name,
                                                                  "error": exc.errors()[0]["msg"]})


class LogReader(Protocol):
    """Reads partitions of a topic from a start (None: the beginning) to their end."""

    async def read(self, topic: str, starts: dict[int, int | None], *,
                   recheck_s: float) -> tuple[list[tuple[int, bytes | None, bytes | None]], dict[int, int]]:
        """(partition, key, value) in log order per partition, and the offset each partition was read to."""


class KafkaLogReader:
    def __init__(self, kafka: KafkaSettings, load_timeout_s: float = 120.0) -> None:
        self._kafka = kafka
        self._load_timeout_s = load_timeout_s

    async def read(self, topic: str, starts: dict[int, int | None], *,
                   recheck_s: float) -> tuple[list[tuple[int, bytes | None, bytes | None]], dict[int, int]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._kafka.bootstrap, enable_auto_commit=False,
                                    client_id=f"{self._kafka.client_id}-state-load",
                                    fetch_max_wait_ms=self._kafka.profile.fetch_max_wait_ms)
        await consumer.start()
        records: list[tuple[int, bytes | None, bytes | None]] = []
        try:
            tps = [TopicPartition(topic, p) for p in sorted(starts)]
            consumer.assign(tps)
            guards: dict[TopicPartition, GapGuard] = {}
            for tp in tps:
                start = starts[tp.partition]
                if start is None:
                    await consumer.seek_to_beginning(tp)
                    start = await consumer.position(tp)
                else:
                    consumer.seek(tp, start)
                guards[tp] = GapGuard(start, recheck_s)
            deadline = time.monotonic() + self._load_timeout_s
            while not _at_end(consumer, tps, guards):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic} not read to its end within {self._load_timeout_s}s")
                for tp, batch in (await consumer.getmany(*tps, timeout_ms=200)).items():
                    checked = guards[tp].check(batch)
                    records.extend((tp.partition, r.key, r.value) for r in checked.deliver)
                    if checked.refetch_from is not None:
                        consumer.seek(tp, checked.refetch_from)
                        await asyncio.sleep(0.02)
        finally:
            await consumer.stop()
        return records, {tp.partition: guard.expected for tp, guard in guards.items() if guard.expected is not None}


def _at_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition], guards: dict[TopicPartition, GapGuard]) -> bool:
    """At the high-water mark of every partition, as the fetch responses report it. (Not end_offsets():
    Tansu answers it wrongly for multi-record batches.)"""
    for tp in tps:
        highwater, expected = consumer.highwater(tp), guards[tp].expected
        if highwater is None or expected is None or expected < highwater:
            return False
    return True


async def _all(futures: list[asyncio.Future[Any]]) -> None:
    if futures:
        await asyncio.gather(*futures)
