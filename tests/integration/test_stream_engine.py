"""The stream engine on the real broker: no record is left unseen while producers write concurrently.

The embedded broker can hand a consumer at the tail offset N+1 before N (written at the same moment
by another producer) is visible. A consumer that believed the gap committed past a record it never
saw: CDC records that produced no command (Faust treats gaps as acknowledged) and commands that were
committed but never applied. Here four producers write at once while a flow forwards every record;
every input must come out, exactly in per-partition order, and the committed offsets must be the ends.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.conftest import Broker
from tests.support.wait import until, until_true
from xstream.kafka import apply_topics, make_consumer
from xstream.observability import Health, Metrics
from xstream.publisher import KafkaPublisher
from xstream.settings import BrokerFlavour, KafkaSettings
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.flow import FlowRunner, Output, StateView, StepResult
from xstream.streams.loop import LoopSettings, PartitionedLoop, Record
from xstream.topics import Role, TopicSpec

pytestmark = pytest.mark.integration
PRODUCERS, PER_PRODUCER = 4, 3000


def spec(name: str, partitions: int) -> TopicSpec:
    return TopicSpec.model_validate({"name": name, "role": Role.COMMANDS.value, "description": "test",
                                     "partitions": partitions, "cleanup_policy": "delete", "retention_ms": 3600000,
                                     "key": {"format": "string"}, "value": {"format": "json"}})


class Clock:
    def now(self):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        return datetime.now(UTC)


async def test_every_record_written_concurrently_comes_out_once_in_order(broker: Broker) -> None:
    kafka = KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour(broker.flavour))
    source, sink, dlq = (f"engine-{uuid.uuid4().hex[:8]}-{n}" for n in ("in", "out", "dlq"))
    await apply_topics(kafka, [spec(source, 1), spec(sink, 1), spec(dlq, 1)])
    publisher = KafkaPublisher(kafka)
    await publisher.start()
    metrics = Metrics()

    def forward(record: Record, state: StateView[None] | None) -> StepResult[None]:
        return StepResult("command", outputs=[Output(sink, record.key, record.value or b"")])

    runner: FlowRunner[None] = FlowRunner("forward", forward, publisher=publisher,
                                          dead_letters=DeadLetters(publisher, dlq, metrics, Clock()),
                                          metrics=metrics, max_record_bytes=1_048_576)
    group = f"engine-{uuid.uuid4().hex[:8]}"
    consumer = make_consumer(kafka, group)
    loop = PartitionedLoop(name="flow:forward", consumer=consumer, topics=[source], processor=runner, group=group,
                           metrics=metrics, health=Health(120),
                           settings=LoopSettings(gap_recheck_s=kafka.profile.gap_recheck_s))
    await loop.start()
    task = asyncio.create_task(loop.run())
    producers = [AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0, enable_idempotence=False)
                 for _ in range(PRODUCERS)]
    reader = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        for producer in producers:
            await producer.start()
        await until(lambda: TopicPartition(source, 0) in consumer.assignment() and not loop.paused(), 30)
        # the flow is at the tail: now the producers race each other there

        async def write(index: int, producer: AIOKafkaProducer) -> None:
            for n in range(PER_PRODUCER):  # four writers at the tail of one partition
                await producer.send_and_wait(source, key=f"k{index}-{n % 2}".encode(), value=f"{index}:{n}".encode())

        await asyncio.gather(*(write(i, p) for i, p in enumerate(producers)))
        await reader.start()
        tps = [TopicPartition(sink, 0)]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        out: list[bytes] = []

        async def drain() -> bool:
            for records in (await reader.getmany(timeout_ms=200)).values():
                out.extend(r.value or b"" for r in records)
            return len(out) >= PRODUCERS * PER_PRODUCER

        async with asyncio.timeout(120):
            while not await drain():
                assert not task.done(), task
        assert sorted(out) == sorted(f"{i}:{n}".encode() for i in range(PRODUCERS) for n in range(PER_PRODUCER))
        for i in range(PRODUCERS):  # per key, the order of the input
            for parity in (0, 1):
                mine = [int(v.split(b":")[1]) for v in out if v.startswith(f"{i}:".encode())
                        and int(v.split(b":")[1]) % 2 == parity]
                assert mine == sorted(mine)
        ends: dict[int, int | None] = {0: None}
        await until(lambda: all(consumer.highwater(TopicPartition(source, p)) is not None for p in ends), 30)
        for p in ends:
            ends[p] = consumer.highwater(TopicPartition(source, p))
        committed: dict[int, int | None] = {}

        async def all_committed() -> bool:
            for p in ends:
                committed[p] = await consumer.committed(TopicPartition(source, p))
            return committed == ends

        await until_true(all_committed, 30)
    finally:
        task.cancel()
        await loop.stop()
        await reader.stop()
        for producer in producers:
            await producer.stop()
        await publisher.stop()
