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
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from xstream.codec import decode_model, encode
from xstream.errors import DeadLetterReason, DecodeError
from xstream.model.commands import ORIGIN, WorkspaceCommand
from xstream.model.dead_letter import DeadLetter, Payload
from xstream.model.record import RecordRef
from xstream.model.results import SinkResult
from xstream.model.status import Outcome, StatusEvent
from xstream.observability import Health, Metrics
from xstream.ports import Clock, Sink
from xstream.retry import RetryPolicy

log = logging.getLogger(__name__)


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
        sink: Sink,
        topics: RunnerTopics,
        retry: RetryPolicy,
        pause_s: float,
        clock: Clock,
        metrics: Metrics,
        health: Health,
        group_id: str,
        batch_max: int = 200,
    ) -> None:
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
        self._paused_until: dict[TopicPartition, float] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self.component = f"sink:{sink.name}"

    async def start(self) -> None:
        self._health.expect(self.component)
        await self._producer.start()
        await self._consumer.start()
        await self._sink.start()

    async def run(self) -> None:
        self._health.ready(self.component)
        while not self._stopping.is_set():
            self._resume_due()
            batches = await self._consumer.getmany(timeout_ms=500, max_records=self._batch_max)
            for tp in self._consumer.assignment() - batches.keys():
                self._health.waiting(tp.topic, tp.partition, self._lag(tp))
            if batches:
                await asyncio.gather(*(self.handle(tp, records) for tp, records in batches.items()))

    async def stop(self) -> None:
        self._stopping.set()
        await self._sink.close()
        await self._consumer.stop()
        await self._producer.stop()

    async def handle(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """1 decode  2 sink write (retried)  3 status and dead letters produced + flushed  4 commit."""
        commands, undecodable = self._decode(records)
        results = await self._write_with_retry([command for _, command in commands])
        if results is None:
            self._pause(tp, records[0].offset)
            return
        sends = [self._dead_letter(record, error) for record, error in undecodable]
        for (record, command), result in zip(commands, results, strict=True):
            sends.extend(self._outcome(record, command, result))
        await asyncio.gather(*sends)
        self._positions[tp] = records[-1].offset + 1
        await self._commit(tp, records[-1].offset + 1)

    def _decode(
        self, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> tuple[list[tuple[ConsumerRecord[bytes, bytes], WorkspaceCommand]], list[tuple[ConsumerRecord[bytes, bytes], DecodeError]]]:
        good, bad = [], []
        for record in records:
            try:
                if record.value is None:
                    raise DecodeError(DeadLetterReason.INVALID_COMMAND, "null command value")
                good.append((record, decode_model(record.value, WorkspaceCommand)))
            except DecodeError as exc:
                bad.append((record, exc))
        return good, bad

    async def _write_with_retry(self, commands: list[WorkspaceCommand]) -> list[SinkResult] | None:
        """Per-command results, or None when transient failures outlasted the retry budget."""
        results: list[SinkResult | None] = [None] * len(commands)
        attempts = self._retry.start()
        while True:
            pending = [i for i, r in enumerate(results) if r is None or not r.finished]
            if not pending:
                return [r for r in results if r is not None]
            started = time.perf_counter()
            fresh = await self._sink.write([commands[i] for i in pending])
            self._metrics.sink_latency.labels(self._sink.name).observe(time.perf_counter() - started)
            for i, result in zip(pending, fresh, strict=True):
                results[i] = result
            unfinished = [r for r in fresh if not r.finished]
            if not unfinished:
                continue
            self._metrics.retries.labels(self._sink.name).inc()
            retry_after = max((r.retry_after or 0.0) for r in unfinished) or None
            log.warning("sink attempt unfinished", extra={"sink": self._sink.name, "unfinished": len(unfinished),
                                                          "detail": unfinished[0].detail})
            if not await attempts.backoff(retry_after):
                return None

    def _outcome(self, record: ConsumerRecord[bytes, bytes], command: WorkspaceCommand,
                 result: SinkResult) -> list[asyncio.Future[object]]:
        outcome = result.outcome or Outcome.DEAD_LETTERED
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
            reason=f"{result.reason.value}: {result.detail}" if result.reason else None,
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
                     idempotency_key: str | None = None) -> asyncio.Future[object]:
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

    def _send(self, topic: str, key: bytes | None, value: bytes, idempotency_key: str | None) -> asyncio.Future[object]:
        headers = [("xstream-origin", ORIGIN.encode())]
        if idempotency_key:
            headers.append(("xstream-idempotency-key", idempotency_key.encode()))
        return asyncio.ensure_future(self._producer.send_and_wait(topic, value=value, key=key, headers=headers))

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

    def _pause(self, tp: TopicPartition, first_offset: int) -> None:
        self._metrics.paused.labels(self._sink.name).inc()
        log.error("retries exhausted; pausing partition", extra={"partition": str(tp), "pause_s": self._pause_s})
        self._positions.setdefault(tp, first_offset)
        self._consumer.seek(tp, first_offset)
        self._consumer.pause(tp)
        self._paused_until[tp] = time.monotonic() + self._pause_s

    def _resume_due(self) -> None:
        now = time.monotonic()
        for tp, until in list(self._paused_until.items()):
            if now >= until:
                del self._paused_until[tp]
                if tp in self._consumer.assignment():
                    self._consumer.resume(tp)
