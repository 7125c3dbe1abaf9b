"""The sink runner: reads a command topic and applies it through a sink, with an explicit commit order.

Faust acknowledges an event whose agent raised, so side effects do not run under Faust. This loop
runs on aiokafka's public API and, for each partition's batch, does (see ``handle``):

    1. decode the commands            (undecodable -> dead letter)
    2. sink write, retried             (only unfinished commands are sent again)
    3. status + dead letters produced and flushed
    4. offsets committed

If the retry budget runs out, nothing is committed: the partition is sought back to the batch's
first offset and paused for ``retry.pause_s``, then read again. Only the partitions of the failing
sink stop; a record is never acknowledged without its outcome published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import RecordMetadata
from pydantic import TypeAdapter, ValidationError

from xstream.breaker import CircuitBreaker
from xstream.codec import encode
from xstream.errors import DeadLetterReason, DecodeError
from xstream.model.commands import ORIGIN, AnyDownstream, EnsureWorkspace, UpdateWorkspace
from xstream.model.dead_letter import DeadLetter, Payload
from xstream.model.record import RecordRef
from xstream.model.results import SinkResult
from xstream.model.status import Outcome, StatusEvent
from xstream.observability import Health, Metrics
from xstream.ports import Clock, Sink
from xstream.retry import RetryPolicy

log = logging.getLogger(__name__)

AnyCommand = EnsureWorkspace | UpdateWorkspace | AnyDownstream
REFRESH_RETRY_S = 2.0
"""Wait before reading again when a sink's required state could not be refreshed."""


def decode_as(raw: bytes, adapter: TypeAdapter[Any]) -> Any:
    """Decode a command record; a value that breaks the topic's contract is a typed decode error."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(DeadLetterReason.INVALID_COMMAND, f"not a valid command: {exc.errors()[0]['msg']}") from exc


@dataclass(frozen=True)
class RunnerTopics:
    commands: str
    status: str
    dead_letter: str


class SinkRunner:
    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        sink: Sink[Any],
        topics: RunnerTopics,
        retry: RetryPolicy,
        pause_s: float,
        clock: Clock,
        metrics: Metrics,
        health: Health,
        group_id: str,
        command_type: TypeAdapter[Any],
        accepts: Callable[[Any], bool] = lambda command: True,
        breaker: CircuitBreaker | None = None,
        dead_letter_undecodable: bool = True,
        batch_max: int = 200,
        stop_budget_s: float = 30.0,
    ) -> None:
        """``command_type`` decodes the topic's values; ``accepts`` picks this sink's commands when
        several sinks share a topic (each in its own consumer group, so one target's outage pauses
        only its own runner)."""
        self._consumer = consumer
        self._producer = producer
        self._sink = sink
        self._topics = topics
        self._retry = retry
        self._pause_s = pause_s
        self._clock = clock
        self._metrics = metrics
        self._health = health
        self._group = group_id
        self._batch_max = batch_max
        self._stop_budget_s = stop_budget_s
        self._command_type = command_type
        self._accepts = accepts
        self._breaker = breaker
        self._dead_letter_undecodable = dead_letter_undecodable
        """False for all but one of the runners that share a topic, so a bad record is dead-lettered once."""
        self._paused_until: dict[TopicPartition, float] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._finished: dict[TopicPartition, dict[str, SinkResult]] = {}
        """Results of commands that finished in a batch whose retry budget then ran out: the re-read
        batch reuses them, so "applied" is reported as applied and nothing is applied twice."""
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self.needs_refresh = False
        self.component = f"sink:{sink.name}"

    async def start(self) -> None:
        self._health.expect(self.component)
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe([self._topics.commands], listener=_Rebalance(self))
        await self._sink.start()

    async def run(self) -> None:
        self._health.ready(self.component)
        try:
            while not self._stopping.is_set():
                self._resume_due()
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self._batch_max)
                if self.needs_refresh:
                    # aiokafka may hand out records of new partitions before an assignment listener
                    # finishes: the sink's durable state is re-read here, before any of them is handled
                    self.needs_refresh = False
                    if not await self.refresh_sink():
                        self.needs_refresh = True  # nothing is handled without it: read again, later
                        for tp, records in batches.items():
                            self._consumer.seek(tp, records[0].offset)
                        await asyncio.sleep(min(self._pause_s, REFRESH_RETRY_S))
                        continue
                for tp in self._consumer.assignment() - batches.keys():
                    self._health.waiting(tp.topic, tp.partition, self._lag(tp))
                if batches:
                    await asyncio.gather(*(self.handle(tp, records) for tp, records in batches.items()))
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Let the batch in flight finish (within the stop budget), then close the clients."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self._stop_budget_s)
        await self._sink.close()
        await self._consumer.stop()
        await self._producer.stop()

    async def handle(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """1 decode  2 sink write (retried)  3 status and dead letters produced + flushed  4 commit."""
        commands, undecodable = self._decode(records)
        known = self._finished.pop(tp, {})
        results, retry_after = await self._write_with_retry([command for _, command in commands], known)
        if not all(result.finished for result in results):
            self._finished[tp] = {c.idempotency_key: r for (_, c), r in zip(commands, results, strict=True)
                                  if r.finished}
            self._pause(tp, records[0].offset, retry_after)
            return
        sends = [await self._dead_letter(record, error) for record, error in undecodable]
        for (record, command), result in zip(commands, results, strict=True):
            sends.extend([await send for send in self._outcome(record, command, result)])
        await asyncio.gather(*sends)
        self._positions[tp] = records[-1].offset + 1
        await self._commit(tp, records[-1].offset + 1)

    async def refresh_sink(self) -> bool:
        """Before reading newly assigned partitions: sinks with durable state (the OpenText ledger, the
        effect ledger) re-read it, so work another worker finished is recognised. For the OpenText
        ledger a failure only costs lookups (True: go on); a sink whose state is the only guard
        against repeating an effect (``state_required``) must not go on without it (False)."""
        refresh = getattr(self._sink, "refresh", None)
        if refresh is None:
            return True
        try:
            await refresh()
        except Exception:
            if getattr(self._sink, "state_required", False):
                log.exception("sink state refresh failed; its partitions wait until it succeeds",
                              extra={"sink": self._sink.name})
                return False
            log.exception("sink state refresh failed; continuing with what this worker knows")
        return True

    def _record_attempt(self, *, ok: bool) -> None:
        if self._breaker is None:
            return
        if ok:
            self._breaker.record_success()
        else:
            self._breaker.record_failure()
        self._metrics.breaker_open.labels(self._sink.name).set(1 if self._breaker.state == "open" else 0)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """A revoked partition's state goes with it; its new owner re-reads from the last commit."""
        for tp in partitions:
            self._paused_until.pop(tp, None)
            self._positions.pop(tp, None)
            self._finished.pop(tp, None)
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(self._group, tp.topic, str(tp.partition))
        self._health.forget((tp.topic, tp.partition) for tp in partitions)

    def _decode(
        self, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> tuple[list[tuple[ConsumerRecord[bytes, bytes], AnyCommand]], list[tuple[ConsumerRecord[bytes, bytes], DecodeError]]]:
        good, bad = [], []
        for record in records:
            try:
                if record.value is None:
                    raise DecodeError(DeadLetterReason.INVALID_COMMAND, "null command value")
                command = decode_as(record.value, self._command_type)
                if self._accepts(command):
                    good.append((record, command))
            except DecodeError as exc:
                if self._dead_letter_undecodable:
                    bad.append((record, exc))
        return good, bad

    async def _write_with_retry(
        self, commands: list[AnyCommand], known: dict[str, SinkResult]
    ) -> tuple[list[SinkResult], float | None]:
        """Results per command; some stay unfinished when transient failures outlast the retry budget.

        Each attempt is bounded by what is left of the deadline, so a slow target cannot hold the
        consumer past its poll interval. Returns the largest Retry-After the target asked for.
        """
        unfinished = SinkResult.transient("not attempted")
        results = [known.get(c.idempotency_key, unfinished) for c in commands]
        attempts = self._retry.start()
        retry_after: float | None = None
        while True:
            pending = [i for i, r in enumerate(results) if not r.finished]
            if not pending:
                return results, retry_after
            if self._breaker is not None and not self._breaker.allow():
                return results, self._breaker.retry_in()
            started = time.perf_counter()
            try:
                async with asyncio.timeout(attempts.remaining()):
                    fresh = await self._sink.write([commands[i] for i in pending])
            except TimeoutError:
                log.warning("sink attempt ran out of time", extra={"sink": self._sink.name, "pending": len(pending)})
                self._record_attempt(ok=False)
                return results, retry_after
            finally:
                self._metrics.sink_latency.labels(self._sink.name).observe(time.perf_counter() - started)
            for i, result in zip(pending, fresh, strict=True):
                results[i] = result
            still = [r for r in fresh if not r.finished]
            # an attempt that finished anything shows the target alive: only no progress at all counts
            self._record_attempt(ok=len(still) < len(fresh))
            if not still:
                continue
            self._metrics.retries.labels(self._sink.name).inc()
            retry_after = max((r.retry_after or 0.0) for r in still) or None
            log.warning("sink attempt unfinished", extra={"sink": self._sink.name, "unfinished": len(still),
                                                          "detail": still[0].detail})
            if not await attempts.backoff(retry_after):
                return results, retry_after

    def _outcome(self, record: ConsumerRecord[bytes, bytes], command: AnyCommand,
                 result: SinkResult) -> list[Awaitable[asyncio.Future[RecordMetadata]]]:
        outcome = result.outcome
        assert outcome is not None, "only finished results are published"
        self._metrics.commands.labels(self._sink.name, outcome.value).inc()
        log.info("command finished", extra={"outcome": outcome.value, "idempotency_key": command.idempotency_key,
                                            "business_object": command.kafka_key, "sink": self._sink.name})
        status = StatusEvent(
            outcome=outcome,
            command_kind=command.kind,
            idempotency_key=command.idempotency_key,
            business_object=command.business_object,
            target=self._sink.name,
            workspace=result.workspace,
            workspace_created=result.created,
            downstream=result.downstream,
            reason=f"{result.reason.value}: {result.detail}" if result.reason else None,
            document=getattr(command, "document", None),
            rule=getattr(command, "rule", None),
            causation=command.causation,
            occurred_at=self._clock.now(),
        )
        sends = [self._send(self._topics.status, command.kafka_key.encode(), encode(status),
                            command.idempotency_key)]
        if outcome is Outcome.REJECTED:
            error = DecodeError(result.reason or DeadLetterReason.REJECTED_BY_TARGET, result.detail or "")
            sends.append(self._dead_letter(record, error, command.idempotency_key))
        return sends

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: DecodeError,
                     idempotency_key: str | None = None) -> Awaitable[asyncio.Future[RecordMetadata]]:
        self._metrics.dead_letters.labels("sink", error.reason.value).inc()
        letter = DeadLetter(
            reason=error.reason,
            detail=error.detail,
            stage="sink",
            source=RecordRef(topic=record.topic, partition=record.partition, offset=record.offset,
                             timestamp_ms=record.timestamp),
            key=Payload.of(record.key) if record.key is not None else None,
            value=Payload.of(record.value) if record.value is not None else None,
            idempotency_key=idempotency_key,
            occurred_at=self._clock.now(),
        )
        return self._send(self._topics.dead_letter, record.key, encode(letter), idempotency_key)

    def _send(self, topic: str, key: bytes | None, value: bytes,
              idempotency_key: str | None) -> Awaitable[asyncio.Future[RecordMetadata]]:
        """Enqueue (awaited in order, so per-key order holds); the returned future is the delivery."""
        headers = [("xstream-origin", ORIGIN.encode())]
        if idempotency_key:
            headers.append(("xstream-idempotency-key", idempotency_key.encode()))
        return cast(Awaitable["asyncio.Future[RecordMetadata]"],
                    self._producer.send(topic, value=value, key=key, headers=headers))

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        try:
            await self._consumer.commit({tp: offset})
        except (CommitFailedError, KafkaError) as exc:
            # The partition moved to another worker; it re-reads from the last commit and the
            # idempotent sink turns the repeats into already_applied. Nothing is lost.
            log.warning("commit failed", extra={"partition": str(tp), "error": repr(exc)})
            return
        self._health.progressed(tp.topic, tp.partition, self._lag(tp))
        self._metrics.last_progress.labels(self._group, tp.topic, str(tp.partition)).set(time.time())

    def _lag(self, tp: TopicPartition) -> int:
        """Records between what this runner finished and the log end (highwater from the last fetch)."""
        highwater = self._consumer.highwater(tp)
        done = self._positions.get(tp)
        lag = max(0, highwater - done) if highwater is not None and done is not None else 0
        self._metrics.lag.labels(self._group, tp.topic, str(tp.partition)).set(lag)
        return lag

    def _pause(self, tp: TopicPartition, first_offset: int, retry_after: float | None) -> None:
        if tp not in self._consumer.assignment():
            return  # revoked while retrying: the new owner re-reads from the last commit
        pause_s = max(self._pause_s, retry_after or 0.0)
        self._metrics.paused.labels(self._sink.name).inc()
        log.error("retries exhausted; pausing partition", extra={"partition": str(tp), "pause_s": pause_s})
        self._positions.setdefault(tp, first_offset)
        self._consumer.seek(tp, first_offset)
        self._consumer.pause(tp)
        self._paused_until[tp] = time.monotonic() + pause_s

    def _resume_due(self) -> None:
        now = time.monotonic()
        for tp, until in list(self._paused_until.items()):
            if now >= until:
                del self._paused_until[tp]
                if tp in self._consumer.assignment():
                    self._consumer.resume(tp)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: SinkRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._runner.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})
        self._runner.needs_refresh = True  # done by the run loop before it handles the next batch
