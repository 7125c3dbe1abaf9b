"""A flow's runner: outputs without waiting, acknowledged in order, state only after its outputs, bad
records dead-lettered with a reason while the flow goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import BaseModel, TypeAdapter

from tests.support.memory_consumer import MemoryConsumer
from tests.support.memory_log import MemoryLog
from tests.support.wait import until
from xstream.errors import DeadLetterReason
from xstream.observability import Health, Metrics
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.flow import FlowRunner, Output, Rejected, StateView, StepResult
from xstream.streams.loop import LoopFailed, LoopSettings, PartitionedLoop, Record
from xstream.streams.state import PartitionedStore

IN, OUT, DLQ, STATE = "in", "out", "dlq", "state"
TP = TopicPartition(IN, 0)


class Count(BaseModel):
    seen: int


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def counting_step(record: Record, state: StateView[Count] | None) -> StepResult[Count]:
    """Forwards each value with how many records of its key came before; remembers the count."""
    assert state is not None
    value = (record.value or b"").decode()
    if value == "bad":
        return StepResult("dead_lettered", rejected=Rejected(DeadLetterReason.MALFORMED_JSON, "bad input", "decode"))
    if value == "boom":
        raise RuntimeError("a bug")
    key = (record.key or b"").decode()
    known = state.get(key)
    seen = known.seen + 1 if known else 1
    body = b"x" * 2000 if value == "huge" else f"{key}:{seen}".encode()
    return StepResult("command", outputs=[Output(OUT, record.key, body, what="command")],
                      state=[(key, Count(seen=seen))])


@pytest.fixture
async def flow() -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[PartitionedLoop, asyncio.Task[None]]] = []

    async def make(log: MemoryLog, consumer: MemoryConsumer | None = None) -> tuple[PartitionedLoop, MemoryConsumer,
                                                                                    asyncio.Task[None]]:
        metrics = Metrics()
        store: PartitionedStore[Count] = PartitionedStore(publisher=log, reader=log, topic=STATE, prefix="app:t:",
                                                          adapter=TypeAdapter(Count))
        runner: FlowRunner[Count] = FlowRunner("counting", counting_step, publisher=log,
                                               dead_letters=DeadLetters(log, DLQ, metrics, Clock()), metrics=metrics,
                                               max_record_bytes=1024, store=store,
                                               input_partitions=lambda: log.partitions(IN))
        consumer = consumer or MemoryConsumer(log)
        loop = PartitionedLoop(name="flow:counting", consumer=consumer, topics=[IN], processor=runner, group="g",
                               metrics=metrics, health=Health(120), settings=LoopSettings(commit_interval_s=0))
        await loop.start()
        task = asyncio.create_task(loop.run())
        started.append((loop, task))
        await consumer.rebalance({TP})
        return loop, consumer, task

    yield make
    for loop, task in started:
        task.cancel()
        with contextlib.suppress(BaseException):
            await loop.stop()


async def send(log: MemoryLog, *values: str, key: str = "k") -> None:
    for value in values:
        await log.publish(IN, key.encode(), value.encode(), partition=0)


async def test_state_is_seen_by_the_next_record_at_once_and_written_only_after_the_outputs(flow: Any) -> None:
    log = MemoryLog(auto_deliver=False)
    _, consumer, _ = await flow(log)
    await send(log, "a", "b", "c")
    log.deliver_all()
    await until(lambda: len(log.records(OUT)) == 3)
    assert [r.value for r in log.records(OUT)] == [b"k:1", b"k:2", b"k:3"]  # not waiting for acks
    assert log.records(STATE) == [] and consumer.group_commits == {}
    log.deliver_all()  # the outputs are acked: now the state goes out
    await until(lambda: len(log.records(STATE)) == 3)
    log.deliver_all()
    await until(lambda: consumer.group_commits.get(TP) == 3)
    assert log.values(STATE)[-1] == {"seen": 3}


async def test_a_new_owner_continues_from_the_durable_state(flow: Any) -> None:
    log = MemoryLog()
    _, first, _ = await flow(log)
    await send(log, "a", "b")
    await until(lambda: first.group_commits.get(TP) == 2)
    await first.rebalance(set())
    await flow(log, MemoryConsumer(log, group_commits=dict(first.group_commits)))
    await send(log, "c")
    await until(lambda: len(log.records(OUT)) == 3)
    assert log.records(OUT)[-1].value == b"k:3"


async def test_outputs_the_broker_refuses_fail_the_flow_and_the_state_is_never_written(flow: Any) -> None:
    log = MemoryLog(auto_deliver=False)
    _, consumer, task = await flow(log)
    await send(log, "a")
    log.deliver_all()
    await until(lambda: len(log.records(OUT)) == 1)
    log.fail_all(ConnectionError("broker gone"))
    await until(task.done)
    assert isinstance(task.exception(), LoopFailed)
    assert log.records(STATE) == [] and consumer.group_commits == {}


async def test_bad_records_are_dead_lettered_with_their_reason_and_the_flow_goes_on(flow: Any) -> None:
    log = MemoryLog()
    _, consumer, _ = await flow(log)
    await send(log, "bad", "boom", "huge", "fine")
    await until(lambda: consumer.group_commits.get(TP) == 4)
    letters = log.values(DLQ)
    assert [(d["reason"], d["stage"]) for d in letters] == [
        ("malformed_json", "decode"), ("mapping_failed", "map"), ("oversize", "map")]
    assert "unexpected RuntimeError: a bug" in letters[1]["detail"]
    assert "the command it maps to is 2000 bytes, limit 1024" in letters[2]["detail"]
    assert [r.value for r in log.records(OUT)] == [b"k:1"]  # only the good one, counted from its own state


async def test_a_record_whose_output_is_refused_blocks_the_state_of_the_records_after_it(flow: Any) -> None:
    """The memory of a later record includes the earlier one's: written alone, a replay of the earlier
    record would be judged a duplicate and its outputs never sent."""
    log = MemoryLog(auto_deliver=False)
    _, consumer, task = await flow(log)
    await send(log, "a", "b")
    log.deliver_all()  # the inputs
    await until(lambda: len(log.pending) == 2)
    (first, _), (second, stored) = log.pending
    first.set_exception(ConnectionError("partition leader gone"))
    second.set_result(stored)
    log.pending.clear()
    await until(task.done)
    assert isinstance(task.exception(), LoopFailed)
    assert log.records(STATE) == [] and consumer.group_commits == {}


class Gate:
    """A publisher that stops at its ``at``-th publish until opened, as a full producer buffer does."""

    def __init__(self, log: MemoryLog, at: int) -> None:
        self.log, self.at, self.count, self.open = log, at, 0, asyncio.Event()
        self.waiting = asyncio.Event()

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        if self.count == self.at:
            self.waiting.set()
            await self.open.wait()
        return await self.log.publish(*args, **kwargs)

    async def partitions(self, topic: str) -> int:
        return await self.log.partitions(topic)


async def test_a_revoke_during_a_batch_stops_the_hand_over_of_the_revoked_partition() -> None:
    log = MemoryLog()
    gate = Gate(log, at=2)
    seen: list[int] = []

    def step(record: Record, state: StateView[None] | None) -> StepResult[None]:
        seen.append(record.offset)
        return StepResult("command", outputs=[Output(OUT, record.key, record.value or b"")])

    metrics = Metrics()
    runner: FlowRunner[None] = FlowRunner("f", step, publisher=gate,  # type: ignore[arg-type]
                                          dead_letters=DeadLetters(log, DLQ, metrics, Clock()), metrics=metrics,
                                          max_record_bytes=1024)
    consumer = MemoryConsumer(log)
    loop = PartitionedLoop(name="flow:f", consumer=consumer, topics=[IN], processor=runner, group="g",
                           metrics=metrics, health=Health(120), settings=LoopSettings(commit_interval_s=0))
    await loop.start()
    task = asyncio.create_task(loop.run())
    try:
        await consumer.rebalance({TP})
        await send(log, *"abcdef")
        await gate.waiting.wait()  # the loop is handing over the batch, stuck in the second publish
        revoke = asyncio.create_task(consumer.rebalance(set()))
        await cycles_of(loop, 0)
        assert not revoke.done(), "a revoke waits for the batch being handed over"
        gate.open.set()
        await revoke
        handed_after = len(seen)
        await send(log, "g")
        await cycles_of(loop, 5)
        assert len(seen) == handed_after, "nothing is handed over for a revoked partition"
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await loop.stop()


async def cycles_of(loop: PartitionedLoop, n: int) -> None:
    target = loop.cycles + n
    await until(lambda: loop.cycles >= target)
    await asyncio.sleep(0)
