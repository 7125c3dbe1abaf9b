"""The sink runner under its consumer loop, on an in-memory log (no broker, no HTTP).

What users rely on: an offset is committed only after the outcome of every record before it was
published; a transient failure is retried until the command finishes and is reported once; a hung
or failing business object holds up nothing but itself (other objects and partitions go on, the
commit waits at it); per-object order holds; a sink's state is read before its first command; a
record the broker does not show at once is fetched again, never skipped; a record whose outcome the
broker refuses is never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import TypeAdapter

from tests.support.memory_consumer import MemoryConsumer
from tests.support.memory_log import MemoryLog
from tests.support.wait import until
from xstream.breaker import CircuitBreaker
from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, EnsureWorkspace, WorkspaceCommand
from xstream.model.results import SinkResult
from xstream.model.status import WorkspaceLink
from xstream.observability import Health, Metrics
from xstream.retry import RetryPolicy
from xstream.runner import RunnerTopics, SinkRunner
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.loop import LoopFailed, LoopSettings, PartitionedLoop

COMMANDS, STATUS, DLQ = "cmds", "status", "dlq"
TP0, TP1 = TopicPartition(COMMANDS, 0), TopicPartition(COMMANDS, 1)


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def command(bo_id: str, n: int = 1) -> EnsureWorkspace:
    return EnsureWorkspace(
        idempotency_key=f"key-{bo_id}-{n}".ljust(16, "0"),
        business_object=BusinessObject(ext_system_id="SAP", bo_type="KNA1", bo_id=bo_id),
        workspace_type="Customer", name=f"Customer {bo_id}",
        causation=Causation(source_system="erp", entity="customers", op="c", source_position=f"lsn:{n}",
                            topic="erp.cdc.customers", partition=0, offset=n),
    )


def bo_in(partition: int, count: int, start: int = 0) -> list[str]:
    """Business object ids whose commands land in ``partition`` (Kafka's default partitioner)."""
    from xstream.streams.state import default_partition

    found, n = [], start
    while len(found) < count:
        if default_partition(f"SAP/KNA1/{n}".encode(), 4) == partition:
            found.append(str(n))
        n += 1
    return found


LINK = WorkspaceLink(node_id=1, url="http://ot/1")


@dataclass
class ScriptedSink:
    """Answers from a script: (attempt number of this key, command) -> SinkResult (or awaits a gate)."""

    answer: Callable[[int, Any], SinkResult] = lambda attempt, c: SinkResult.applied(LINK, created=True)
    name: str = "fake"
    calls: list[str] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def apply(self, command: Any) -> SinkResult:
        self.calls.append(command.idempotency_key)
        gate = self.gates.get(command.business_object.bo_id)
        if gate is not None:
            await gate.wait()
        return self.answer(self.calls.count(command.idempotency_key), command)


@dataclass
class Rig:
    log: MemoryLog
    consumer: MemoryConsumer
    loop: PartitionedLoop
    runner: SinkRunner
    sink: Any
    task: asyncio.Task[None] | None = None

    async def send(self, *commands: Any, raw: bytes | None = None) -> None:
        for c in commands:
            await self.log.publish(COMMANDS, c.kafka_key.encode(), encode(c))
        if raw is not None:
            await self.log.publish(COMMANDS, b"SAP/KNA1/raw", raw, partition=0)

    def statuses(self) -> list[dict[str, Any]]:
        return self.log.values(STATUS)

    def committed(self, tp: TopicPartition = TP0) -> int | None:
        return self.consumer.group_commits.get(tp)


async def cycles(rig: Rig, n: int) -> None:
    """Until the loop fetched, handed over and committed ``n`` more times."""
    target = rig.loop.cycles + n
    await until(lambda: rig.loop.cycles >= target)


def fast_retry(attempts: int = 3) -> RetryPolicy:
    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    return RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.01, deadline_s=60, sleep=no_wait,
                       jitter=lambda: 0.0)


@pytest.fixture
async def make_rig() -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    rigs: list[Rig] = []

    async def make(sink: Any = None, *, log: MemoryLog | None = None, consumer: MemoryConsumer | None = None,
                   breaker: CircuitBreaker | None = None, concurrency: int = 8, max_in_flight: int = 1000,
                   retry: RetryPolicy | None = None, pause_s: float = 0.01, revoke_budget_s: float = 0.5,
                   **runner_kw: Any) -> Rig:
        log = log or MemoryLog()
        consumer = consumer or MemoryConsumer(log)
        sink = sink or ScriptedSink()
        metrics = Metrics()
        runner = SinkRunner(sink=sink, publisher=log, topics=RunnerTopics(COMMANDS, STATUS, DLQ),
                            retry=retry or fast_retry(), pause_s=pause_s, clock=Clock(), metrics=metrics,
                            dead_letters=DeadLetters(log, DLQ, metrics, Clock()),
                            command_type=TypeAdapter(WorkspaceCommand), concurrency=concurrency,
                            max_record_bytes=1_048_576, breaker=breaker,
                            input_partitions=lambda: log.partitions(COMMANDS), **runner_kw)
        loop = PartitionedLoop(name="sink:fake", consumer=consumer, topics=[COMMANDS], processor=runner,
                               group="g", metrics=metrics, health=Health(120),
                               settings=LoopSettings(commit_interval_s=0.0, max_in_flight=max_in_flight,
                                                     revoke_budget_s=revoke_budget_s, gap_recheck_s=1.0))
        await loop.start()
        rig = Rig(log, consumer, loop, runner, sink)
        rig.task = asyncio.create_task(loop.run())
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        if rig.task is not None and not rig.task.done():
            rig.task.cancel()
        with contextlib.suppress(BaseException):
            await rig.loop.stop()


async def test_the_commit_comes_after_every_outcome_was_delivered(make_rig: Any) -> None:
    log = MemoryLog(auto_deliver=False)
    rig = await make_rig(log=log)
    await rig.consumer.rebalance({TP0})
    a, b = bo_in(0, 2)
    await rig.send(command(a), command(b))
    log.deliver_all()  # the commands themselves
    await until(lambda: len(log.records(STATUS)) == 2)
    await cycles(rig, 5)  # the loop looked again five times: it would have committed by now
    assert rig.committed() is None, "nothing committed while the status events are not acked"
    log.deliver_all()
    await until(lambda: rig.committed() == 2)
    assert [s["outcome"] for s in rig.statuses()] == ["applied", "applied"]


async def test_a_rejected_command_gets_a_status_and_a_dead_letter_then_the_commit(make_rig: Any) -> None:
    sink = ScriptedSink(lambda n, c: SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, "HTTP 400: no"))
    rig = await make_rig(sink)
    await rig.consumer.rebalance({TP0})
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    await until(lambda: rig.committed() == 1)
    assert [s["outcome"] for s in rig.statuses()] == ["rejected"]
    (letter,) = rig.log.values(DLQ)
    assert letter["reason"] == "rejected_by_target" and letter["idempotency_key"] == command(a).idempotency_key
    assert letter["source"] == {"topic": COMMANDS, "partition": 0, "offset": 0, "timestamp_ms": 0}


async def test_transient_failures_are_retried_until_applied_and_reported_once(make_rig: Any) -> None:
    sink = ScriptedSink(lambda n, c: SinkResult.transient("503") if n < 3 else SinkResult.applied(LINK, created=True))
    rig = await make_rig(sink)
    await rig.consumer.rebalance({TP0})
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    await until(lambda: rig.committed() == 1)
    assert sink.calls == [command(a).idempotency_key] * 3
    assert [s["outcome"] for s in rig.statuses()] == ["applied"]


async def test_an_exhausted_budget_waits_and_tries_again_without_committing_past_it(make_rig: Any) -> None:
    answers = iter([SinkResult.transient("down")] * 7)
    sink = ScriptedSink(lambda n, c: next(answers, SinkResult.applied(LINK, created=True)))
    rig = await make_rig(sink, retry=fast_retry(attempts=3))
    await rig.consumer.rebalance({TP0})
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    await until(lambda: rig.committed() == 1)
    assert len(sink.calls) == 8  # three budgets of three attempts, the eighth call succeeds
    assert [s["outcome"] for s in rig.statuses()] == ["applied"]


async def test_a_hung_object_holds_up_only_itself(make_rig: Any) -> None:
    hung, *others = bo_in(0, 4)
    (elsewhere,) = bo_in(1, 1)
    sink = ScriptedSink(gates={hung: asyncio.Event()})
    rig = await make_rig(sink)
    await rig.consumer.rebalance({TP0, TP1})
    await rig.send(command(hung), *(command(o) for o in others), command(elsewhere))
    await until(lambda: len(rig.statuses()) == 4 and rig.committed(TP1) == 1)
    assert {s["business_object"]["bo_id"] for s in rig.statuses()} == {*others, elsewhere}
    assert rig.committed(TP0) is None, "the commit waits at the hung command"
    sink.gates[hung].set()
    await until(lambda: rig.committed(TP0) == 4)


async def test_commands_of_one_object_apply_in_order_one_at_a_time(make_rig: Any) -> None:
    (a,) = bo_in(0, 1)
    seen: list[int] = []
    running = 0

    class Slow(ScriptedSink):
        async def apply(self, command: Any) -> SinkResult:
            nonlocal running
            running += 1
            assert running == 1, "two commands of one object at once"
            await asyncio.sleep(0.001)
            seen.append(command.causation.offset)
            running -= 1
            return SinkResult.applied(LINK)

    rig = await make_rig(Slow(), concurrency=8)
    await rig.consumer.rebalance({TP0})
    await rig.send(*(command(a, n) for n in range(1, 21)))
    await until(lambda: rig.committed() == 20)
    assert seen == list(range(1, 21))


async def test_undecodable_commands_are_dead_lettered_not_dropped(make_rig: Any) -> None:
    rig = await make_rig()
    await rig.consumer.rebalance({TP0})
    await rig.send(raw=b'{"kind": "ensure_workspace"}')
    await until(lambda: rig.committed() == 1)
    (letter,) = rig.log.values(DLQ)
    assert letter["reason"] == "invalid_command" and letter["stage"] == "sink"
    assert rig.statuses() == []


async def test_an_open_breaker_stops_attempts_until_it_lets_a_trial_through(make_rig: Any) -> None:
    now = [100.0]
    breaker = CircuitBreaker(2, 30.0, lambda: now[0], failure_window_s=0)
    answers = iter([SinkResult.transient("down"), SinkResult.transient("down")])
    sink = ScriptedSink(lambda n, c: next(answers, SinkResult.applied(LINK)))
    rig = await make_rig(sink, breaker=breaker)
    await rig.consumer.rebalance({TP0})
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    await until(lambda: breaker.state == "open")
    calls = len(sink.calls)
    await cycles(rig, 5)
    assert len(sink.calls) == calls == 2, "no attempt while the circuit is open"
    await cycles(rig, 2)
    section = rig.loop.status()
    assert section["partitions"]["cmds/0"]["held"] == "fake breaker open" and section["breaker"]["state"] == "open"
    assert section["last_error"] == "down"
    now[0] += 31  # the reset time passed: one trial goes through, succeeds and closes the circuit
    await until(lambda: rig.committed() == 1, timeout_s=3)
    assert breaker.state == "closed"


@dataclass
class SlowState:
    """A sink's state whose load waits for the test: nothing may be applied before it is read."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: list[int] = field(default_factory=list)

    async def load(self, partitions: Collection[int], *, input_partitions: int | None = None,
                   recheck_s: float = 0.0) -> None:
        await self.go.wait()
        self.loaded.extend(partitions)

    def release(self, partitions: Collection[int]) -> None:
        return None

    def retain(self, partitions: Collection[int]) -> None:
        return None

    def barrier(self, partition: int) -> Awaitable[None]:
        return asyncio.sleep(0)


async def test_a_sink_with_state_applies_nothing_before_its_state_is_read(make_rig: Any) -> None:
    sink = ScriptedSink()
    sink.state = SlowState()  # type: ignore[attr-defined]
    rig = await make_rig(sink)
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    await rig.consumer.rebalance({TP0})
    await cycles(rig, 5)
    assert sink.calls == []
    sink.state.go.set()  # type: ignore[attr-defined]
    await until(lambda: rig.committed() == 1)
    assert sink.state.loaded == [0]  # type: ignore[attr-defined]


async def test_an_offset_the_broker_does_not_show_yet_is_fetched_again_not_skipped(make_rig: Any) -> None:
    log = MemoryLog()
    consumer = MemoryConsumer(log, hide={TP0: {1}})
    rig = await make_rig(log=log, consumer=consumer)
    await rig.consumer.rebalance({TP0})
    ids = bo_in(0, 3)
    await rig.send(*(command(i) for i in ids))
    await until(lambda: rig.committed() == 3)
    assert sorted(rig.sink.calls) == sorted(command(i).idempotency_key for i in ids)


async def test_a_revoke_commits_what_finished_and_abandons_the_rest_to_the_next_owner(make_rig: Any) -> None:
    hung, done = bo_in(0, 2)
    log = MemoryLog()
    sink = ScriptedSink(gates={hung: asyncio.Event()})
    first = await make_rig(sink, log=log)
    await first.consumer.rebalance({TP0})
    await first.send(command(done), command(hung))  # offsets 0 and 1
    await until(lambda: len(first.statuses()) == 1)
    await first.consumer.rebalance(set())  # revoked: the hung command is abandoned after the budget
    assert first.committed() == 1
    # the next owner starts from the commit and applies the abandoned command
    second = await make_rig(log=log, consumer=MemoryConsumer(log, group_commits=dict(first.consumer.group_commits)))
    await second.consumer.rebalance({TP0})
    await until(lambda: second.committed() == 2)
    assert second.sink.calls == [command(hung).idempotency_key]


async def test_a_full_partition_is_paused_and_resumed(make_rig: Any) -> None:
    ids = bo_in(0, 6)
    sink = ScriptedSink(gates={i: asyncio.Event() for i in ids})
    rig = await make_rig(sink, max_in_flight=4)
    await rig.consumer.rebalance({TP0})
    await rig.send(*(command(i) for i in ids))
    await until(lambda: rig.loop.paused() == {"cmds/0": "backpressure"} and len(sink.calls) == 6)
    assert TP0 in rig.consumer.paused()
    for gate in sink.gates.values():
        gate.set()
    await until(lambda: rig.committed() == 6)
    assert rig.loop.paused() == {}


async def test_a_status_the_broker_refuses_fails_the_loop_and_is_never_acknowledged(make_rig: Any) -> None:
    log = MemoryLog()
    rig = await make_rig(log=log)
    await rig.consumer.rebalance({TP0})
    (a,) = bo_in(0, 1)
    await rig.send(command(a))
    log.refuse = ConnectionError
    await until(lambda: rig.task is not None and rig.task.done())
    assert isinstance(rig.task.exception(), LoopFailed)
    await rig.loop.stop()
    assert rig.committed() is None


async def test_a_rebalance_waits_for_calls_in_flight_not_for_a_target_to_come_back(make_rig: Any) -> None:
    """Queued commands are left to the next owner at once and a command waiting to be tried again is
    abandoned: the revoke does not wait out the budget (60 s here) while a target is down."""
    never = asyncio.Event()

    async def wait_forever(_: float) -> None:
        await never.wait()

    retry = RetryPolicy(attempts=3, base_delay_s=1, max_delay_s=1, deadline_s=60, sleep=wait_forever)
    sink = ScriptedSink(lambda n, c: SinkResult.transient("down"))
    rig = await make_rig(sink, retry=retry, revoke_budget_s=60)
    await rig.consumer.rebalance({TP0})
    first, *queued = bo_in(0, 1) * 5
    await rig.send(command(first, 1), *(command(first, n) for n in range(2, 6)))
    await until(lambda: len(sink.calls) == 1)
    async with asyncio.timeout(5):
        await rig.consumer.rebalance(set())
    assert sink.calls == [command(first, 1).idempotency_key] and rig.committed() is None
