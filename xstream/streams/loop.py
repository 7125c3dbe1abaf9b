"""One consumer group's loop: fetch, check offsets, hand records on, commit what is finished, in order.

Every flow and every sink runs under one :class:`PartitionedLoop`; what it does with a record is
its :class:`Processor`'s business. The loop's guarantees:

- **commit order**: a partition's offset is committed only up to its first unfinished record
  (:class:`~.offsets.OffsetTracker`), so a crash at any moment re-reads every record whose outcome
  was not durable; records of one partition finish in any order (one business object does not wait
  for another), commits are batched every ``commit_interval_s``;
- **no record unseen**: a gap in the offsets is fetched again before it is believed (:mod:`.gaps`);
- **state before records**: a newly assigned partition is paused until its processor loaded what
  it needs (the previous owner's ledger, a flow's memory), then resumed;
- **backpressure**: a partition with ``max_in_flight`` unfinished records is paused until half of
  them finished, and the consumer keeps polling, so it stays in the group however long one record
  takes (a stalled target, a large transfer);
- **revoke within a budget**: on a rebalance the records in flight get ``revoke_budget_s`` to finish;
  what finished is committed, the rest is abandoned (cancelled) and re-read by the next owner, whose
  idempotency keys turn repeats into ``already_applied``;
- **crash-only on broker failure**: a record whose outcome the broker refused fails the loop (the
  worker exits and is restarted), never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from xstream.errors import ConfigError
from xstream.observability import Health, Metrics
from xstream.streams.gaps import GapGuard
from xstream.streams.offsets import OffsetTracker

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(eq=False)
class Part:
    """One assigned partition as the loop and its processor see it."""

    tp: TopicPartition
    loop: PartitionedLoop
    tracker: OffsetTracker = field(default_factory=OffsetTracker)
    guard: GapGuard | None = None
    ready: bool = False
    revoked: bool = False
    """Being revoked: nothing new is started for it (work in progress may finish within the budget)."""
    released: bool = False
    """Gone: nothing at all runs for it any more."""
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def partition(self) -> int:
        return int(self.tp.partition)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run work for this partition; cancelled when the partition goes; a failure fails the loop."""
        if self.released:
            work.close()  # a partition that is gone starts nothing (its next owner re-reads the record)
            return
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.loop.fail(task.exception())  # type: ignore[arg-type]

    def settle(self, offset: int, deliveries: Iterable[Awaitable[Any]]) -> None:
        """The record at ``offset`` is finished once every delivery resolved (its outcome is durable)."""
        pending = list(deliveries)
        if not pending:
            self.finish(offset)
            return

        async def wait() -> None:
            await asyncio.gather(*pending)
            self.finish(offset)

        self.spawn(wait())

    def finish(self, offset: int) -> None:
        self.tracker.finish(offset)

    def take(self, offset: int) -> None:
        self.tracker.take(offset)


class Processor(Protocol):
    """What a loop does with records: a flow or a sink runner."""

    async def prepare(self, parts: list[Part]) -> None:
        """Load what newly assigned partitions need before their first record (may raise: retried)."""

    async def submit(self, part: Part, record: Record) -> None:
        """Take one record (in offset order per partition); ``part.settle``/``finish`` its offset later."""

    def release(self, parts: list[Part]) -> None:
        """These partitions are being revoked: start nothing new for them (what is in progress may
        finish within the revoke budget; the rest is re-read by the next owner)."""

    def forget(self, parts: list[Part]) -> None:
        """These partitions are gone (revoked or stopped); drop what was kept for them. Durable state
        may be kept aside: if a partition comes back, only what others wrote since is read."""

    def retain(self, partitions: set[TopicPartition]) -> None:
        """The partitions this worker handles now: state kept aside for any other may be dropped."""

    def held(self, part: Part) -> str | None:
        """Why this partition waits on purpose (a failing target, an open breaker), or None."""

    def describe(self) -> dict[str, Any]:
        """The processor's part of /status (breaker, last error, ...)."""


class LoopFailed(RuntimeError):
    """A record's outcome could not be made durable: the worker stops without acknowledging it."""


@dataclass(frozen=True)
class LoopSettings:
    max_in_flight: int = 1000
    """Unfinished records per partition before it is paused (resumed at half)."""
    commit_interval_s: float = 0.2
    revoke_budget_s: float = 10.0
    """How long calls in flight may take to finish on a rebalance or a stop; the rest is abandoned.
    Shorter than the group's rejoin window (Apache Kafka: the rebalance timeout; Tansu: half the
    session), or the member misses the new generation and the group rebalances again."""
    fetch_timeout_ms: int = 100
    fetch_max_records: int = 500
    gap_recheck_s: float = 0.0
    """See :mod:`.gaps`: 0 believes a gap at once (Apache Kafka)."""
    prepare_retry_s: float = 2.0


class PartitionedLoop:
    def __init__(self, *, name: str, consumer: AIOKafkaConsumer, topics: list[str], processor: Processor,
                 group: str, metrics: Metrics, health: Health, settings: LoopSettings = LoopSettings()) -> None:
        self.name = name
        self.component = name
        self._consumer = consumer
        self._topics = topics
        self._processor = processor
        self._group = group
        self._metrics = metrics
        self._health = health
        self._settings = settings
        self._parts: dict[TopicPartition, Part] = {}
        self._paused: dict[TopicPartition, tuple[str, float | None]] = {}
        """Why a partition is paused: loading, gap (until a time), backpressure."""
        self._loading: dict[TopicPartition, asyncio.Task[None]] = {}
        self._last_commit = 0.0
        self.cycles = 0
        """Fetch cycles run (one getmany, hand-over and commit each): for the status page, and for tests
        that must know the loop looked again."""
        self._failure: BaseException | None = None
        self._handover = asyncio.Lock()
        """Held while a batch is handed to the processor: a revoke waits for it, so no record of a
        revoked partition is submitted after the partition was released."""
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()

    # --- life cycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._health.expect(self.component)
        self._health.register(self.component, self.status)
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_Listener(self))

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._failure is not None:
                    raise LoopFailed(f"{self.name}: {self._failure!r}") from self._failure
                self._resume_due()
                batches = await self._consumer.getmany(timeout_ms=self._settings.fetch_timeout_ms,
                                                       max_records=self._settings.fetch_max_records)
                async with self._handover:
                    for tp, records in batches.items():
                        await self._take(tp, records)
                await self._commit(self._parts.values())
                self._report(set(self._parts) - batches.keys())
                self.cycles += 1
        finally:
            self._stopped.set()

    async def stop(self) -> None:
        """Finish what is in flight within the budget, commit it, leave the group."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):  # the run loop ends within one fetch
            await asyncio.wait_for(self._stopped.wait(), self._settings.fetch_timeout_ms / 1000 + 1.0)
        async with self._handover:
            await self._release(list(self._parts.values()))
        await self._consumer.stop()

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def fail(self, exc: BaseException) -> None:
        if self._failure is None:
            log.critical("a record's outcome could not be made durable; stopping without acknowledging it",
                         extra={"loop": self.name, "error": repr(exc)})
            self._failure = exc

    # --- records --------------------------------------------------------------------------------------

    async def _take(self, tp: TopicPartition, records: list[Record]) -> None:
        part = self._parts.get(tp)
        if part is None or part.revoked:
            return
        if not part.ready or part.guard is None:
            self._seek(tp, records[0].offset)  # handed out before its state was loaded: later
            self._pause(tp, "loading")
            return
        checked = part.guard.check(records)
        for record in checked.deliver:
            if part.revoked:
                return
            part.take(record.offset)
            await self._processor.submit(part, record)
        if checked.accepted_gap is not None:
            log.info("offsets absent from the log", extra={"loop": self.name, "partition": str(tp),
                                                           "offsets": list(checked.accepted_gap)})
        if checked.refetch_from is not None:
            self._seek(tp, checked.refetch_from)
            self._pause(tp, "gap", time.monotonic() + 0.02)
        elif part.tracker.in_flight >= self._settings.max_in_flight:
            self._pause(tp, "backpressure")

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        if tp in self._consumer.assignment():
            self._consumer.seek(tp, offset)

    def _pause(self, tp: TopicPartition, why: str, until: float | None = None) -> None:
        if tp in self._consumer.assignment():
            self._consumer.pause(tp)
            self._paused[tp] = (why, until)

    def _resume_due(self) -> None:
        now = time.monotonic()
        for tp, (why, until) in list(self._paused.items()):
            part = self._parts.get(tp)
            if part is None:
                self._paused.pop(tp, None)
                continue
            due = {"loading": part.ready, "gap": until is not None and now >= until,
                   "backpressure": part.tracker.in_flight <= self._settings.max_in_flight // 2}[why]
            if due:
                del self._paused[tp]
                if tp in self._consumer.assignment():
                    self._consumer.resume(tp)

    def paused(self) -> dict[str, str]:
        """Paused partitions and why, for status pages."""
        return {f"{tp.topic}/{tp.partition}": why for tp, (why, _) in self._paused.items()}

    # --- commits and health ---------------------------------------------------------------------------

    async def _commit(self, parts: Iterable[Part], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_commit < self._settings.commit_interval_s:
            return
        self._last_commit = now
        assigned = self._consumer.assignment()
        offsets = {part.tp: offset for part in parts
                   if part.tp in assigned and (offset := part.tracker.to_commit()) is not None}
        if not offsets:
            return
        try:  # bounded: aiokafka retries a retriable commit error for ever, which would hold a rebalance
            await asyncio.wait_for(self._consumer.commit(offsets), self._settings.revoke_budget_s)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # A rebalance is under way: the partitions' next owner re-reads from the last commit and the
            # repeats are answered already_applied. Nothing is lost.
            log.warning("commit failed", extra={"loop": self.name, "error": repr(exc)})
            return
        for tp, offset in offsets.items():
            part = self._parts.get(tp)
            if part is not None:
                part.tracker.committed(offset)
            self._health.progressed(tp.topic, tp.partition, self._lag(tp, offset))
            self._metrics.last_progress.labels(self._group, tp.topic, str(tp.partition)).set(time.time())

    def _report(self, quiet: Iterable[TopicPartition]) -> None:
        quiet = set(quiet)
        for tp, part in self._parts.items():
            if not part.ready:
                continue
            paused = self._paused.get(tp)
            why = self._processor.held(part) or (f"paused: {paused[0]}" if paused and paused[0] == "backpressure"
                                                 else None)
            self._health.hold(tp.topic, tp.partition, why)
            self._metrics.held.labels(self._group, tp.topic, str(tp.partition)).set(1 if why else 0)
            if tp in quiet and part.tracker.idle:
                self._health.waiting(tp.topic, tp.partition, self._lag(tp, part.tracker.committable()))

    def status(self) -> dict[str, Any]:
        """This loop's section of /status (no I/O)."""
        parts = {}
        for tp, part in sorted(self._parts.items(), key=lambda item: (item[0].topic, item[0].partition)):
            highwater = self._consumer.highwater(tp) if tp in self._consumer.assignment() else None
            done = part.tracker.committable()
            parts[f"{tp.topic}/{tp.partition}"] = {
                "ready": part.ready, "committed": part.tracker.last_committed,
                "lag": max(0, highwater - done) if highwater is not None and done is not None else None,
                "in_flight": part.tracker.in_flight, "paused": self._paused.get(tp, (None,))[0],
                "held": self._processor.held(part) if part.ready else None}
        return {"group": self._group, "topics": self._topics, "cycles": self.cycles,
                "failed": repr(self._failure) if self._failure else None, "partitions": parts,
                **self._processor.describe()}

    def _lag(self, tp: TopicPartition, position: int | None) -> int:
        """Records between what is finished and the log end (the high-water mark of the last fetch)."""
        if tp not in self._consumer.assignment():
            return 0  # revoked meanwhile: not ours to report
        highwater = self._consumer.highwater(tp)
        lag = max(0, highwater - position) if highwater is not None and position is not None else 0
        self._metrics.lag.labels(self._group, tp.topic, str(tp.partition)).set(lag)
        return lag

    # --- rebalances -----------------------------------------------------------------------------------

    async def assigned(self, assigned: Iterable[TopicPartition]) -> None:
        current = set(assigned)
        self._processor.retain(current)
        new = [Part(tp, self) for tp in current if tp not in self._parts]
        for part in new:
            self._parts[part.tp] = part
            self._pause(part.tp, "loading")
        if new:
            task = asyncio.create_task(self._prepare(new))
            for part in new:
                self._loading[part.tp] = task
        log.info("partitions assigned", extra={"loop": self.name, "partitions": sorted(str(p.tp) for p in new)})
        self._health.ready(self.component)

    async def _prepare(self, parts: list[Part]) -> None:
        """Positions and state first (all new partitions in one read); only then their records: they
        stay paused until ready. A setup that cannot work (state topic with another partition count)
        fails the loop; anything else is tried again."""
        started = time.monotonic()
        while not any(part.revoked for part in parts):
            try:
                positions = [await self._consumer.position(part.tp) for part in parts]
                await self._processor.prepare(parts)
            except asyncio.CancelledError:
                raise
            except ConfigError as exc:
                self.fail(exc)
                return
            except Exception:
                log.exception("could not prepare partitions; they wait and try again",
                              extra={"loop": self.name, "partitions": sorted(str(p.tp) for p in parts)})
                await asyncio.sleep(self._settings.prepare_retry_s)
                continue
            for part, position in zip(parts, positions, strict=True):
                part.guard = GapGuard(position, self._settings.gap_recheck_s)
                part.tracker.committed(position)  # where the group stands: nothing to commit until past it
                part.ready = True
                self._loading.pop(part.tp, None)
            log.info("partitions ready", extra={"loop": self.name, "seconds": round(time.monotonic() - started, 3),
                                                "positions": {str(p.tp): pos for p, pos in zip(parts, positions,
                                                                                               strict=True)}})
            return

    async def revoked(self, revoked: Iterable[TopicPartition]) -> None:
        async with self._handover:
            await self._release([self._parts[tp] for tp in revoked if tp in self._parts])

    async def _release(self, parts: list[Part]) -> None:
        """Let in-flight records finish within the budget, commit them, abandon the rest. (Committing is
        safe even after a failure: only records whose outcome is durable are in the finished prefix.)"""
        if not parts:
            return
        for part in parts:
            part.revoked = True
            loading = self._loading.pop(part.tp, None)
            if loading is not None and not loading.done():
                loading.cancel()
        self._processor.release(parts)  # work not started yet is left to the next owner at once
        if self._failure is None:  # after a failure nothing more can be made durable: do not wait
            await self._finish_started(parts)
        await self._commit(parts, force=True)
        abandoned = sum(part.tracker.in_flight for part in parts)
        for part in parts:
            part.released = True
            for task in list(part.tasks):
                task.cancel()
        self._processor.forget(parts)
        for part in parts:
            self._parts.pop(part.tp, None)
            self._paused.pop(part.tp, None)
            for gauge in (self._metrics.lag, self._metrics.held):
                with contextlib.suppress(KeyError):
                    gauge.remove(self._group, part.tp.topic, str(part.tp.partition))
        self._health.forget((part.tp.topic, part.tp.partition) for part in parts)
        log.info("partitions released", extra={"loop": self.name, "partitions": sorted(str(p.tp) for p in parts),
                                               "abandoned": abandoned})


    async def _finish_started(self, parts: list[Part]) -> None:
        """Until the work in progress for ``parts`` (and what it spawns, e.g. waiting for acks) is done,
        or the revoke budget ran out. Only what was started is waited for: a rebalance takes as long as
        the calls in flight, not as long as the partition's backlog."""
        deadline = asyncio.get_running_loop().time() + self._settings.revoke_budget_s
        while True:
            running = {task for part in parts for task in part.tasks if not task.done()}
            left = deadline - asyncio.get_running_loop().time()
            if not running or left <= 0:
                return
            await asyncio.wait(running, timeout=left)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: PartitionedLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop.revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._loop.assigned(assigned)
