"""The sink runner: applies the commands of one topic through one sink, with an explicit commit order.

It runs under a :class:`~xstream.streams.loop.PartitionedLoop` (its own consumer group). For every
command, :meth:`SinkRunner.handle` does, in this order:

    1. decode the command                   (undecodable -> dead letter)
    2. apply it, retried until finished     (one retry policy; the breaker gates every attempt)
    3. status event (+ dead letter when rejected) and the sink's state writes published
    4. finished once all of 3 is acked      -> the loop commits offsets in order

so a command is never acknowledged without its outcome published and its ledger entry durable, and
a crash at any point re-reads it (the sink's idempotency turns the repeat into already_applied).

Commands of one business object are applied in order, one at a time; different objects run
concurrently, at most ``concurrency`` calls at once. A command whose retry budget runs out waits
``pause_s`` and starts a new budget: only its own business object waits (and, through the commit
order, that partition's offset); other objects and partitions go on. A hung call costs its own
timeout and nothing else. When the target is down the breaker opens, attempts stop, unfinished
commands pile up to the partition's in-flight limit and the loop pauses the partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from pydantic import TypeAdapter

from xstream.breaker import CircuitBreaker
from xstream.codec import decode_command, encode
from xstream.errors import DeadLetterReason, DecodeError
from xstream.model.results import SinkResult
from xstream.model.status import Outcome, StatusEvent
from xstream.observability import Metrics
from xstream.ports import Clock, Publisher, Sink, StatefulSink
from xstream.retry import RetryPolicy
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.loop import Part, Record

log = logging.getLogger(__name__)

AnyCommand = Any
"""A command of the topic's type (the runner never looks at its kind; the sink does)."""
GATE_POLL_S = 0.5
"""How often commands waiting for an open breaker look again (a closed breaker lets them go at once)."""


@dataclass(frozen=True)
class RunnerTopics:
    commands: str
    status: str
    dead_letter: str


class SinkRunner:
    def __init__(
        self,
        *,
        sink: Sink[Any],
        publisher: Publisher,
        topics: RunnerTopics,
        retry: RetryPolicy,
        pause_s: float,
        clock: Clock,
        metrics: Metrics,
        dead_letters: DeadLetters,
        command_type: TypeAdapter[Any],
        concurrency: int,
        max_record_bytes: int,
        breaker: CircuitBreaker | None = None,
        input_partitions: Callable[[], Awaitable[int]] | None = None,
        gap_recheck_s: float = 0.0,
    ) -> None:
        """``command_type`` is the topic's value type, from the routing table (:mod:`xstream.routing`)."""
        self._sink = sink
        self._publisher = publisher
        self._topics = topics
        self._retry = retry
        self._pause_s = pause_s
        self._clock = clock
        self._metrics = metrics
        self._dead_letters = dead_letters
        self._command_type = command_type
        self._slots = asyncio.Semaphore(concurrency)
        self._max_bytes = max_record_bytes
        self._breaker = breaker
        self._input_partitions = input_partitions
        self._gap_recheck_s = gap_recheck_s
        self._chains: dict[int, dict[str, deque[tuple[Record, AnyCommand]]]] = {}
        self._waits: dict[int, set[asyncio.Task[Any]]] = {}
        self._last_error: str | None = None
        self._last_error_at: str | None = None
        self._last_applied_at: str | None = None
        """Per partition, the chains waiting between attempts (cancelled on a revoke)."""
        self.name = sink.name

    @property
    def sink(self) -> Sink[Any]:
        return self._sink

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._breaker

    async def start(self) -> None:
        await self._sink.start()

    async def close(self) -> None:
        await self._sink.close()

    # --- the loop's processor ------------------------------------------------------------------------

    async def prepare(self, parts: list[Part]) -> None:
        """A sink with state (its ledger) reads the previous owner's writes before any command here."""
        if isinstance(self._sink, StatefulSink):
            count = await self._input_partitions() if self._input_partitions is not None else None
            await self._sink.state.load([p.partition for p in parts], input_partitions=count,
                                        recheck_s=self._gap_recheck_s)

    def release(self, parts: list[Part]) -> None:
        """A business object finishes the call it has in flight; its queued commands are dropped, and a
        command waiting to be tried again (backoff, open breaker) is abandoned at once."""
        for part in parts:
            for chain in self._chains.get(part.partition, {}).values():
                while len(chain) > 1:
                    chain.pop()
            for task in self._waits.pop(part.partition, set()):
                task.cancel()

    def held(self, part: Part) -> str | None:
        """The target is why this partition waits: its breaker is open, or commands wait to be tried again."""
        if self._breaker is not None and self._breaker.state != "closed":
            return f"{self._sink.name} breaker {self._breaker.state}"
        waiting = len(self._waits.get(part.partition, ()))
        return f"{self._sink.name} failing: {waiting} command(s) waiting to be tried again" if waiting else None

    def describe(self) -> dict[str, Any]:
        breaker = self._breaker
        return {"kind": "sink", "sink": self._sink.name,
                "breaker": {"state": breaker.state.value, "failures": breaker.failures,
                            "retry_in_s": round(breaker.retry_in(), 1)} if breaker is not None else None,
                "last_error": self._last_error, "last_error_at": self._last_error_at,
                "last_applied_at": self._last_applied_at}

    def forget(self, parts: list[Part]) -> None:
        for part in parts:
            self._chains.pop(part.partition, None)
            self._waits.pop(part.partition, None)
        if isinstance(self._sink, StatefulSink):
            self._sink.state.release([p.partition for p in parts])

    def retain(self, partitions: set[TopicPartition]) -> None:
        if isinstance(self._sink, StatefulSink):
            self._sink.state.retain({tp.partition for tp in partitions})

    async def submit(self, part: Part, record: Record) -> None:
        try:
            command = decode_command(record.value, self._command_type, max_bytes=self._max_bytes)
        except DecodeError as exc:
            part.settle(record.offset, [await self._dead_letters.send(record, "sink", exc.reason, exc.detail)])
            return
        chains = self._chains.setdefault(part.partition, {})
        chain = chains.setdefault(command.kafka_key, deque())
        chain.append((record, command))
        if len(chain) == 1:
            part.spawn(self._run_chain(part, chains, command.kafka_key))

    async def _run_chain(self, part: Part, chains: dict[str, deque[tuple[Record, AnyCommand]]], key: str) -> None:
        """One business object's commands, in order, one at a time."""
        chain = chains[key]
        while chain:
            record, command = chain[0]
            await self.handle(part, record, command)
            chain.popleft()
            if part.revoked:
                break
        chains.pop(key, None)

    async def handle(self, part: Part, record: Record, command: AnyCommand) -> None:
        """2 apply (retried until finished)  3 status, dead letter and state published  4 settle: the
        offset is finished once they are all acked (the loop commits it in order)."""
        result = await self._apply(command, part.partition)
        deliveries = await self._outcome(record, command, result)
        if isinstance(self._sink, StatefulSink):
            deliveries.append(self._sink.state.barrier(part.partition))
        part.settle(record.offset, deliveries)

    # --- 2: apply, retried ----------------------------------------------------------------------------

    async def _apply(self, command: AnyCommand, partition: int) -> SinkResult:
        """Until the command finished. Its waits between attempts are marked, so a revoke cancels a
        command that waits for a target to come back at once (only calls in flight get the budget)."""
        while True:
            attempts = self._retry.start()
            retry_after: float | None = None
            while True:
                async with self._waiting(partition):
                    await self._gate()
                async with self._waiting(partition):
                    await self._slots.acquire()  # waiting for a slot is abandoned on a revoke as well
                started = time.perf_counter()
                try:
                    result = await self._attempt(command)
                finally:
                    self._slots.release()
                self._metrics.sink_latency.labels(self._sink.name).observe(time.perf_counter() - started)
                if result.finished or result.blames_target:
                    self._record_attempt(ok=result.finished)
                if result.finished:
                    self._last_applied_at = self._clock.now().isoformat()
                    return result
                self._last_error, self._last_error_at = result.detail, self._clock.now().isoformat()
                self._metrics.retries.labels(self._sink.name).inc()
                retry_after = result.retry_after
                log.warning("sink attempt unfinished", extra={"sink": self._sink.name, "detail": result.detail,
                                                              "idempotency_key": command.idempotency_key})
                async with self._waiting(partition):
                    if not await attempts.backoff(retry_after):
                        break
            wait = max(self._pause_s, retry_after or 0.0)
            self._metrics.paused.labels(self._sink.name).inc()
            log.error("retries exhausted; this business object waits, then tries again",
                      extra={"sink": self._sink.name, "business_object": command.kafka_key,
                             "idempotency_key": command.idempotency_key, "wait_s": wait})
            async with self._waiting(partition):
                await self._retry.sleep(wait)

    async def _attempt(self, command: AnyCommand) -> SinkResult:
        try:
            return await self._sink.apply(command)
        except Exception as exc:  # noqa: BLE001 - a sink bug must not take the other commands down
            log.exception("sink raised", extra={"sink": self._sink.name, "idempotency_key": command.idempotency_key})
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"unexpected {type(exc).__name__}: {exc}")

    @contextlib.asynccontextmanager
    async def _waiting(self, partition: int) -> AsyncIterator[None]:
        task = asyncio.current_task()
        assert task is not None
        waiting = self._waits.setdefault(partition, set())
        waiting.add(task)
        try:
            yield
        finally:
            waiting.discard(task)

    async def _gate(self) -> None:
        """Wait while the breaker is open (only the half-open trial goes through)."""
        while self._breaker is not None and not self._breaker.allow():
            await self._retry.sleep(min(max(self._breaker.retry_in(), 0.05), GATE_POLL_S))

    def _record_attempt(self, *, ok: bool) -> None:
        if self._breaker is None:
            return
        if ok:
            self._breaker.record_success()
        else:
            self._breaker.record_failure()
        self._metrics.breaker_open.labels(self._sink.name).set(1 if self._breaker.state == "open" else 0)

    # --- 3: outcome -----------------------------------------------------------------------------------

    async def _outcome(self, record: Record, command: AnyCommand, result: SinkResult) -> list[Awaitable[Any]]:
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
            document=result.document or getattr(command, "document", None),
            rule=getattr(command, "rule", None),
            causation=command.causation,
            occurred_at=self._clock.now(),
        )
        deliveries = [await self._publisher.publish(self._topics.status, command.business_object.kafka_key.encode(),
                                                    encode(status),
                                                    idempotency_key=command.idempotency_key)]
        if outcome is Outcome.REJECTED:
            deliveries.append(await self._dead_letters.send(
                record, "sink", result.reason or DeadLetterReason.REJECTED_BY_TARGET, result.detail or "",
                idempotency_key=command.idempotency_key))
        return deliveries
