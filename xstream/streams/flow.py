"""A flow: one pure step per record, its outputs sent without waiting, acknowledged in offset order.

A flow module gives a :data:`Step`: ``(record, state) -> StepResult`` (outputs to produce, state to
keep, or why the record is rejected). :class:`FlowRunner` does the I/O around it, the same way for
every flow:

- outputs are queued at once (the next record does not wait for this one's acks), in record order,
  so per-key order holds on the output topics;
- a record is finished only when all its outputs are acked, and then (for a stateful flow) when its
  state is durable: the state a record leaves is written *after* its outputs, so a crash never
  leaves a memory of outputs that were not delivered (the record is evaluated again with the old
  memory and sends the same outputs, with the same idempotency keys);
- the state is visible to the next record at once (a document's next event sees this one's memory);
- a rejected record, an output larger than the record limit and a step that raised become dead
  letters with a typed reason; the flow goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import TopicPartition

from xstream.errors import DeadLetterReason
from xstream.model.dead_letter import Stage
from xstream.observability import Metrics
from xstream.ports import Publisher
from xstream.publisher import RecordTooLarge, too_large
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.loop import Part, Record
from xstream.streams.state import PartitionedStore

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes
    idempotency_key: str | None = None
    what: str = "output"
    """Named in the dead letter when the output is too large (e.g. "command")."""


@dataclass(frozen=True)
class Rejected:
    reason: DeadLetterReason
    detail: str
    stage: Stage


@dataclass(frozen=True)
class StepResult(Generic[S]):
    outcome: str
    """Counted in ``xstream_events{flow, outcome}``: command, skipped, dead_lettered."""
    outputs: Sequence[Output] = ()
    state: Sequence[tuple[str, S | None]] = ()
    """Keys of the flow's state to set (None deletes) once the outputs are delivered."""
    rejected: Rejected | None = None
    """The record itself goes to the dead-letter topic (outputs, if any, are still sent)."""


@dataclass
class StateView(Generic[S]):
    """The step's read access to its state in the record's partition."""

    store: PartitionedStore[S]
    partition: int

    def get(self, key: str) -> S | None:
        return self.store.get(key, self.partition)


Step = Callable[[Record, StateView[S] | None], StepResult[S]]


class FlowRunner(Generic[S]):
    def __init__(self, name: str, step: Step[S], *, publisher: Publisher, dead_letters: DeadLetters,
                 metrics: Metrics, max_record_bytes: int, store: PartitionedStore[S] | None = None,
                 input_partitions: Callable[[], Awaitable[int]] | None = None, gap_recheck_s: float = 0.0) -> None:
        self.name = name
        self._step = step
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_bytes = max_record_bytes
        self._store = store
        self._input_partitions = input_partitions
        self._gap_recheck_s = gap_recheck_s
        self._last: dict[TopicPartition, asyncio.Future[None]] = {}
        """Per partition, when the last record's state writes were queued: state is written in record
        order (a later record's memory must never be overwritten by an earlier one's)."""

    async def prepare(self, parts: list[Part]) -> None:
        if self._store is not None:
            count = await self._input_partitions() if self._input_partitions is not None else None
            await self._store.load([p.partition for p in parts], input_partitions=count,
                                   recheck_s=self._gap_recheck_s)

    def release(self, parts: list[Part]) -> None:
        """A flow's started work is only waiting for acks: it is let finish."""

    def held(self, part: Part) -> str | None:
        return None  # a flow waits for nothing but the broker

    def describe(self) -> dict[str, Any]:
        return {"kind": "flow", "state_keys": len(self._store) if self._store is not None else None}

    def forget(self, parts: list[Part]) -> None:
        for part in parts:
            self._last.pop(part.tp, None)
        if self._store is not None:
            self._store.release([p.partition for p in parts])

    def retain(self, partitions: set[TopicPartition]) -> None:
        if self._store is not None:
            self._store.retain({tp.partition for tp in partitions})

    async def submit(self, part: Part, record: Record) -> None:
        view = StateView(self._store, part.partition) if self._store is not None else None
        try:
            result = self._step(record, view)
        except Exception as exc:  # noqa: BLE001 - a bug in one step must not stop the flow
            log.exception("unexpected error in a flow step", extra={"flow": self.name, "record": _where(record)})
            result = StepResult("dead_lettered", rejected=Rejected(DeadLetterReason.MAPPING_FAILED,
                                                                   f"unexpected {type(exc).__name__}: {exc}", "map"))
        oversize = next((o for o in result.outputs if len(o.value) > self._max_bytes), None)
        if oversize is not None:
            result = StepResult("dead_lettered", rejected=Rejected(
                DeadLetterReason.OVERSIZE, f"the {oversize.what} it maps to is {len(oversize.value)} bytes, "
                f"limit {self._max_bytes}", "map"))
        deliveries: list[Awaitable[Any]] = []
        try:
            for output in result.outputs:
                deliveries.append(await self._publisher.publish(output.topic, output.key, output.value,
                                                                idempotency_key=output.idempotency_key))
        except RecordTooLarge as exc:
            result = StepResult("dead_lettered", rejected=Rejected(DeadLetterReason.OVERSIZE, str(exc), "map"))
        if result.rejected is not None:
            rejected = result.rejected
            deliveries.append(await self._dead_letters.send(record, rejected.stage, rejected.reason, rejected.detail))
        self._metrics.events.labels(self.name, result.outcome).inc()
        if self._store is not None:
            for key, value in result.state:
                self._store.set_local(key, value, partition=part.partition)
        previous = self._last.get(part.tp)
        queued: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queued.add_done_callback(_retrieved)
        self._last[part.tp] = queued
        part.spawn(self._finish(part, record, deliveries, result.state, previous, queued))

    async def _finish(self, part: Part, record: Record, deliveries: list[Awaitable[Any]],
                      state: Sequence[tuple[str, S | None]], previous: asyncio.Future[None] | None,
                      queued: asyncio.Future[None]) -> None:
        try:
            for delivery in deliveries:
                try:
                    await delivery
                except Exception as exc:
                    if not too_large(exc):
                        raise  # the broker refused an outcome: the loop fails, nothing is acknowledged
                    await (await self._dead_letters.send(record, "map", DeadLetterReason.OVERSIZE,
                                                         f"the broker refused an output as too large: {exc}"))
            if previous is not None:
                await previous  # raises when an earlier record's outcome failed: then no later state
            if part.loop.failed:
                raise RuntimeError("the flow failed: no more state is written")
            writes = [await self._store.write(key, value, partition=part.partition)
                      for key, value in state] if self._store is not None else []
        except BaseException as exc:
            # A later record's memory includes this one's (set_local is cumulative): it must not be
            # written when this record's outputs were not delivered.
            if not queued.done():
                queued.set_exception(exc if isinstance(exc, Exception) else RuntimeError("abandoned"))
            raise
        queued.set_result(None)
        for write in writes:
            await write
        part.finish(record.offset)


def _retrieved(future: asyncio.Future[None]) -> None:
    """A failed predecessor's error is raised by its successor or nobody: never reported as unretrieved."""
    if not future.cancelled():
        future.exception()


def _where(record: Record) -> str:
    return f"{record.topic}/{record.partition}@{record.offset}"
