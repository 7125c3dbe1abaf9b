"""The runner's commit protocol, with a fake consumer, producer and sink (no broker, no HTTP).

What users rely on: an offset is committed only after the outcome of every record before it was
published; when the retry budget runs out nothing is committed and the partition is re-read; a
command applied before the budget ran out is reported as applied, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import TypeAdapter

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, EnsureWorkspace, WorkspaceCommand
from xstream.model.results import SinkResult
from xstream.model.status import WorkspaceLink
from xstream.observability import Health, Metrics
from xstream.retry import RetryPolicy
from xstream.runner import RunnerTopics, SinkRunner

TP = TopicPartition("cmds", 0)


class Log(list[tuple]):
    pass


class FakeConsumer:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.assigned = {TP}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(("commit", offsets[TP]))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.log.append(("seek", offset))

    def pause(self, tp: TopicPartition) -> None:
        self.log.append(("pause",))

    def highwater(self, tp: TopicPartition) -> int:
        return 100


class FakeProducer:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: list) -> asyncio.Future:
        delivered: asyncio.Future = asyncio.get_running_loop().create_future()

        def deliver() -> None:
            self.log.append(("delivered", topic, orjson.loads(value)))
            delivered.set_result(None)

        asyncio.get_running_loop().call_later(0.01, deliver)  # delivery completes later than enqueueing
        return delivered


class ScriptedSink:
    """Answers each write from a script: a function of (attempt number, command) -> SinkResult."""

    name = "fake"

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[list[str]] = []

    async def write(self, batch: Sequence[WorkspaceCommand]) -> list[SinkResult]:
        self.calls.append([c.idempotency_key for c in batch])
        return [self.answer(len(self.calls), c) for c in batch]


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def command(bo_id: str, offset: int) -> EnsureWorkspace:
    return EnsureWorkspace(
        idempotency_key=f"key-{bo_id}-{offset}".ljust(16, "x"),
        business_object=BusinessObject(ext_system_id="S", bo_type="T", bo_id=bo_id),
        workspace_type="Customer", name=f"C {bo_id}",
        causation=Causation(source_system="erp", entity="customers", op="c", source_position=f"lsn:{offset}",
                            topic="cdc", partition=0, offset=offset))


def record(offset: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord("cmds", 0, offset, 0, 0, b"k", value, None, 1, len(value or b""), [])


class FakeBreaker:
    """The runner's view of a circuit breaker: it opens after ``threshold`` failed attempts."""

    def __init__(self, threshold: int) -> None:
        self.threshold, self.failures, self.successes = threshold, 0, 0

    @property
    def state(self) -> str:
        return "open" if self.failures >= self.threshold else "closed"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        self.failures, self.successes = 0, self.successes + 1

    def record_failure(self) -> None:
        self.failures += 1

    def retry_in(self) -> float:
        return 30.0


def runner(sink: ScriptedSink, log: Log, *, attempts: int = 3, deadline_s: float = 5.0,
           breaker: FakeBreaker | None = None, accepts=lambda command: True) -> SinkRunner:
    async def no_sleep(_: float) -> None:
        return None

    return SinkRunner(
        consumer=FakeConsumer(log), producer=FakeProducer(log), sink=sink,  # type: ignore[arg-type]
        topics=RunnerTopics(commands="cmds", status="status", dead_letter="dlq"),
        retry=RetryPolicy(attempts, 0.01, 0.01, deadline_s, sleep=no_sleep), pause_s=1.0, clock=FixedClock(),
        metrics=Metrics(), health=Health(60), group_id="g", command_type=TypeAdapter(WorkspaceCommand),
        breaker=breaker, accepts=accepts)  # type: ignore[arg-type]


LINK = WorkspaceLink(node_id=7, url="http://ot/app/nodes/7")


async def test_commit_comes_after_every_outcome_was_delivered() -> None:
    log = Log()
    sink = ScriptedSink(lambda attempt, c: SinkResult.applied(LINK))
    records = [record(10, encode(command("1", 10))), record(11, b"{broken"), record(12, encode(command("2", 12)))]
    await runner(sink, log).handle(TP, records)
    kinds = [entry[0] for entry in log]
    assert kinds == ["delivered", "delivered", "delivered", "commit"]
    assert log[-1] == ("commit", 13)
    topics = sorted(entry[1] for entry in log[:-1])
    assert topics == ["dlq", "status", "status"]
    letter = next(entry[2] for entry in log if entry[0] == "delivered" and entry[1] == "dlq")
    assert letter["reason"] == DeadLetterReason.INVALID_COMMAND.value and letter["source"]["offset"] == 11


async def test_rejected_command_gets_a_status_and_a_dead_letter_then_the_commit() -> None:
    log = Log()
    sink = ScriptedSink(lambda attempt, c: SinkResult.rejected(DeadLetterReason.MAPPING_FAILED, "no such type"))
    await runner(sink, log).handle(TP, [record(4, encode(command("1", 4)))])
    delivered = {entry[1]: entry[2] for entry in log if entry[0] == "delivered"}
    assert delivered["status"]["outcome"] == "rejected"
    assert delivered["dlq"]["idempotency_key"] == delivered["status"]["idempotency_key"]
    assert log[-1] == ("commit", 5)


async def test_transient_failures_retry_only_unfinished_commands() -> None:
    log = Log()
    sink = ScriptedSink(lambda attempt, c: SinkResult.applied(LINK) if attempt > 1 or c.business_object.bo_id == "1"
                        else SinkResult.transient("503"))
    await runner(sink, log).handle(TP, [record(1, encode(command("1", 1))), record(2, encode(command("2", 2)))])
    assert [len(call) for call in sink.calls] == [2, 1]
    statuses = [entry[2]["outcome"] for entry in log if entry[0] == "delivered"]
    assert statuses == ["applied", "applied"]


async def test_exhausted_budget_commits_nothing_then_the_reread_reports_applied_once() -> None:
    log = Log()
    down = {"value": True}
    sink = ScriptedSink(lambda attempt, c: SinkResult.transient("503") if down["value"] and c.business_object.bo_id == "2"
                        else SinkResult.applied(LINK))
    run = runner(sink, log, attempts=2)
    records = [record(1, encode(command("1", 1))), record(2, encode(command("2", 2)))]
    await run.handle(TP, records)
    assert log == [("seek", 1), ("pause",)]
    down["value"] = False
    sink.calls.clear()
    await run.handle(TP, records)  # re-read after the pause
    assert sink.calls == [[command("2", 2).idempotency_key]]  # "1" is not applied again
    assert [e[2]["outcome"] for e in log if e[0] == "delivered"] == ["applied", "applied"]
    assert log[-1] == ("commit", 3)


async def test_a_partition_revoked_while_retrying_is_not_sought_or_paused() -> None:
    log = Log()
    run = runner(ScriptedSink(lambda attempt, c: SinkResult.transient("503")), log, attempts=2)
    run._consumer.assigned.clear()  # type: ignore[attr-defined]
    await run.handle(TP, [record(1, encode(command("1", 1)))])
    assert log == []


async def test_an_attempt_that_hangs_is_cut_at_the_deadline() -> None:
    log = Log()

    class HangingSink(ScriptedSink):
        async def write(self, batch: Sequence[WorkspaceCommand]) -> list[SinkResult]:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    run = runner(HangingSink(None), log, deadline_s=0.2)
    await asyncio.wait_for(run.handle(TP, [record(1, encode(command("1", 1)))]), timeout=5)
    assert log == [("seek", 1), ("pause",)]


@pytest.mark.parametrize("value", [None, b"null", b'{"kind": "ensure_workspace"}'])
async def test_undecodable_commands_are_dead_lettered_not_dropped(value: bytes | None) -> None:
    log = Log()
    sink = ScriptedSink(lambda attempt, c: SinkResult.applied(LINK))
    await runner(sink, log).handle(TP, [record(3, value)])
    assert [(e[0], e[1]) for e in log[:-1]] == [("delivered", "dlq")]
    assert log[-1] == ("commit", 4)


async def test_an_open_breaker_stops_attempts_and_pauses_for_its_reset_time() -> None:
    log = Log()
    breaker = FakeBreaker(threshold=2)
    sink = ScriptedSink(lambda attempt, c: SinkResult.transient("503"))
    run = runner(sink, log, attempts=10, breaker=breaker)
    await run.handle(TP, [record(1, encode(command("1", 1)))])
    assert len(sink.calls) == 2  # the breaker opened after two failed attempts: no more calls
    assert log == [("seek", 1), ("pause",)]
    assert run._paused_until[TP] - __import__("time").monotonic() > 20  # paused for the breaker's reset time


async def test_success_closes_the_breaker_again() -> None:
    log = Log()
    breaker = FakeBreaker(threshold=3)
    breaker.failures = 2
    await runner(ScriptedSink(lambda attempt, c: SinkResult.applied(LINK)), log, breaker=breaker).handle(
        TP, [record(1, encode(command("1", 1)))])
    assert breaker.failures == 0 and log[-1] == ("commit", 2)


async def test_commands_for_other_sinks_are_left_alone_but_committed() -> None:
    log = Log()
    sink = ScriptedSink(lambda attempt, c: SinkResult.applied(LINK))
    run = runner(sink, log, accepts=lambda c: c.business_object.bo_id == "mine")
    await run.handle(TP, [record(1, encode(command("other", 1))), record(2, encode(command("mine", 2)))])
    assert [len(call) for call in sink.calls] == [1]
    assert [e[2]["business_object"]["bo_id"] for e in log if e[0] == "delivered"] == ["mine"]
    assert log[-1] == ("commit", 3)


async def test_partial_progress_does_not_count_against_the_breaker() -> None:
    log = Log()
    breaker = FakeBreaker(threshold=1)
    sink = ScriptedSink(lambda attempt, c: SinkResult.applied(LINK) if c.business_object.bo_id == "1" or attempt > 1
                        else SinkResult.transient("503"))
    await runner(sink, log, breaker=breaker).handle(TP, [record(1, encode(command("1", 1))),
                                                        record(2, encode(command("2", 2)))])
    assert breaker.state == "closed" and log[-1] == ("commit", 3)


class RefreshingSink(ScriptedSink):
    """A sink whose durable state (an effect ledger) must be read before it may apply anything."""

    state_required = True

    def __init__(self, answer, failures: int) -> None:
        super().__init__(answer)
        self.failures = failures
        self.refreshes = 0

    async def refresh(self) -> None:
        self.refreshes += 1
        if self.refreshes <= self.failures:
            raise ConnectionError("effects topic unreadable")


class ReadingConsumer(FakeConsumer):
    """Hands out the same batch until it is committed (a seek back makes it come again)."""

    def __init__(self, log: Log, batch: list[ConsumerRecord], done: asyncio.Event) -> None:
        super().__init__(log)
        self.batch, self.done = batch, done

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[ConsumerRecord]]:
        await asyncio.sleep(0)
        return {} if self.done.is_set() else {TP: self.batch}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await super().commit(offsets)
        self.done.set()


@pytest.mark.parametrize("state_required", [True, False])
async def test_a_sink_whose_state_could_not_be_read_applies_nothing_until_it_is_read(
        monkeypatch: pytest.MonkeyPatch, state_required: bool) -> None:
    monkeypatch.setattr("xstream.runner.REFRESH_RETRY_S", 0.01)
    log, done = Log(), asyncio.Event()
    sink = RefreshingSink(lambda attempt, c: SinkResult.applied(LINK), failures=2)
    sink.state_required = state_required
    r = runner(sink, log)  # type: ignore[arg-type]
    r._consumer = ReadingConsumer(log, [record(0, encode(command("1", 0)))], done)  # type: ignore[assignment]
    r.needs_refresh = True  # as after a partition assignment
    task = asyncio.create_task(r.run())
    await asyncio.wait_for(done.wait(), 5)
    r._stopping.set()
    await asyncio.wait_for(task, 5)
    if state_required:  # read twice in vain: the batch was sought back, not applied, until the third read
        assert sink.refreshes == 3 and log.count(("seek", 0)) == 2
    else:  # the OpenText ledger: a failed read only costs lookups, the batch goes on
        assert sink.refreshes == 1 and ("seek", 0) not in log
    assert len(sink.calls) == 1 and ("commit", 1) in log
