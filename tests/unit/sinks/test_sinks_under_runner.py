"""The real sinks under the runner and its consumer loop (in-memory log and consumer, the emulators over
HTTP): a command is acknowledged only once the sink's state write (ledger or effect entry) is durable,
and a state write the broker refuses stops the worker without acknowledging the command."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import TypeAdapter
from xstream_emulators.erp import ErpEmulatorConfig, start_erp_emulator
from xstream_emulators.opentext import OpenTextEmulatorConfig, start_opentext_emulator

from tests.support.memory_consumer import MemoryConsumer
from tests.support.memory_log import MemoryLog
from tests.support.wait import until
from tests.unit.sinks.support import EFFECTS_TOPIC, LEDGER_TOPIC, effect_store, ledger_store, partition_of
from xstream.clients.opentext import OpenTextClient
from xstream.codec import encode
from xstream.model.business import BusinessObject
from xstream.model.commands import (
    Causation,
    DownstreamCommand,
    EnsureWorkspace,
    UpdateRecord,
    WorkspaceCommand,
)
from xstream.model.position import position_order
from xstream.observability import Health, Metrics
from xstream.retry import RetryPolicy
from xstream.runner import RunnerTopics, SinkRunner
from xstream.settings import OpenTextSettings, TargetSettings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectLedger
from xstream.sinks.ledger import Ledger
from xstream.sinks.opentext import OpenTextSink
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.loop import LoopFailed, LoopSettings, PartitionedLoop

COMMANDS, STATUS, DLQ = "cmds", "status", "dlq"


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def no_wait_retry() -> RetryPolicy:
    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    return RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.01, deadline_s=60, sleep=no_wait,
                       jitter=lambda: 0.0)


@dataclass
class Case:
    """One sink with a command for it and the topic its state is written to."""

    sink: Any
    command: Any
    command_type: TypeAdapter[Any]
    state_topic: str


def workspace_command() -> EnsureWorkspace:
    return EnsureWorkspace(
        idempotency_key="runner-ws-000000001",
        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id="31"),
        workspace_type="Customer", template="Customer Template", name="Customer 31",
        categories={"Customer": {"Account Number": "31"}},
        causation=Causation(source_system="erp", entity="customers", op="c", source_position="lsn:31",
                            topic="erp.cdc.customers", partition=0, offset=31))


def record_command() -> UpdateRecord:
    return UpdateRecord(
        idempotency_key="runner-rec-00000001", target="erp", entity="customers", record_id="1",
        fields={"links": {"workspace_id": 31}},
        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id="1"),
        causation=Causation(source_system="opentext", entity="workspaces", op="u", source_position="evt:31",
                            topic="opentext.events", partition=0, offset=31))


@pytest.fixture(params=["opentext", "erp"])
async def case(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[MemoryLog], Awaitable[Case]]]:
    async with contextlib.AsyncExitStack() as stack:
        sinks: list[Any] = []

        async def make(log: MemoryLog) -> Case:
            if request.param == "opentext":
                emu = await stack.enter_async_context(await start_opentext_emulator(OpenTextEmulatorConfig()))
                settings = OpenTextSettings(base_url=emu.url)
                sink: Any = OpenTextSink(settings, Ledger(await ledger_store(log), position_order),
                                         OpenTextClient(settings))
                made = Case(sink, workspace_command(), TypeAdapter(WorkspaceCommand), LEDGER_TOPIC)
            else:
                erp = await stack.enter_async_context(await start_erp_emulator(ErpEmulatorConfig()))
                erp.state.records.insert("customers", "1", {"name": "Customer 1"}, changed_by="seed")
                sink = DownstreamSink("erp", TargetSettings(base_url=erp.url),
                                      EffectLedger(await effect_store(log, "erp")))
                made = Case(sink, record_command(), TypeAdapter(DownstreamCommand), EFFECTS_TOPIC)
            sinks.append(sink)
            return made

        yield make
        for sink in sinks:
            await sink.close()


@dataclass
class Rig:
    log: MemoryLog
    consumer: MemoryConsumer
    loop: PartitionedLoop
    task: asyncio.Task[None]
    tp: TopicPartition

    def committed(self) -> int | None:
        return self.consumer.group_commits.get(self.tp)

    async def cycles(self, n: int) -> None:
        target = self.loop.cycles + n
        await until(lambda: self.loop.cycles >= target)

    def resolve(self, topic: str, error: BaseException | None = None) -> None:
        """The broker acks (or refuses) what was published to ``topic``, nothing else."""
        for future, stored in self.log.pending:
            if stored.topic == topic and not future.done():
                if error is None:
                    future.set_result(stored)
                else:
                    future.set_exception(error)


@pytest.fixture
async def rig(case: Callable[[MemoryLog], Awaitable[Case]]) -> AsyncIterator[tuple[Rig, Case]]:
    log = MemoryLog(auto_deliver=False)
    made = await case(log)
    consumer = MemoryConsumer(log)
    metrics = Metrics()
    runner = SinkRunner(sink=made.sink, publisher=log, topics=RunnerTopics(COMMANDS, STATUS, DLQ),
                        retry=no_wait_retry(), pause_s=0.01, clock=Clock(), metrics=metrics,
                        dead_letters=DeadLetters(log, DLQ, metrics, Clock()), command_type=made.command_type,
                        concurrency=4, max_record_bytes=1_048_576, input_partitions=lambda: log.partitions(COMMANDS))
    loop = PartitionedLoop(name=f"sink:{made.sink.name}", consumer=consumer, topics=[COMMANDS], processor=runner,
                           group="g", metrics=metrics, health=Health(120),
                           settings=LoopSettings(commit_interval_s=0.0, revoke_budget_s=0.5))
    await runner.start()
    await loop.start()
    task = asyncio.create_task(loop.run())
    tp = TopicPartition(COMMANDS, partition_of(made.command.kafka_key, log))
    await consumer.rebalance({tp})
    await log.publish(COMMANDS, made.command.kafka_key.encode(), encode(made.command))
    log.deliver_all()  # the command itself
    yield Rig(log, consumer, loop, task, tp), made
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await loop.stop()


async def test_the_command_is_acknowledged_only_once_its_state_entry_is_durable(rig: tuple[Rig, Case]) -> None:
    r, made = rig
    await until(lambda: len(r.log.records(made.state_topic)) == 1 and len(r.log.records(STATUS)) == 1)
    r.resolve(STATUS)  # the outcome is durable, the state entry is not
    await r.cycles(5)  # the loop looked again five times: it would have committed by now
    assert r.committed() is None, "acknowledged before its ledger entry was durable"
    r.resolve(made.state_topic)
    await until(lambda: r.committed() == 1)
    assert [s["outcome"] for s in r.log.values(STATUS)] == ["applied"]


async def test_a_state_write_the_broker_refuses_stops_the_worker_unacknowledged(rig: tuple[Rig, Case]) -> None:
    r, made = rig
    await until(lambda: len(r.log.records(made.state_topic)) == 1 and len(r.log.records(STATUS)) == 1)
    r.resolve(STATUS)
    r.resolve(made.state_topic, ConnectionError("the broker refused the state write"))
    await until(lambda: r.task.done())
    assert isinstance(r.task.exception(), LoopFailed)
    assert r.committed() is None
