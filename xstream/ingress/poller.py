"""The OpenText poller: what changed in the watched workspace types and folders since the last cycle.

One cycle (:meth:`Poller.cycle`), against the checkpoint (:mod:`.checkpoint`):

1. containers: every workspace of each watched type (``GET /api/v2/businessworkspaces?
   where_workspace_type_id=..&expanded_view=true``, paged) and the watched folders;
2. in each, recursively (``max_depth`` folder levels): documents sorted by ``desc_modify_date``,
   read page by page until they are older than the window (``high-water - overlap``), and the
   subfolders (``where_type=0``). Cost: two listing calls per container and cycle at least, at most
   ``concurrency`` at a time;
3. each listed document that is new to the window, modified since, or not settled yet (an
   observation made in the second of its modify date might have missed a change of that second;
   see :mod:`.checkpoint`) is observed (two calls); an observation equal to what was reported is not sent
   again; otherwise its audit trail since the last report says what happened (added, new
   version, attributes changed);
4. finished workflows (``GET /api/v2/workflows/status`` for completed and stopped, one call each)
   not reported yet: one event per attached document.

The first cycle without a checkpoint follows ``start_from`` (``latest``: snapshot events that
teach the status flow the current state; ``earliest`` / a date: real events). The service around
it (:class:`PollerService`) polls only while this worker owns the checkpoint topic's one partition
(a consumer group: one poller per deployment however many replicas run), publishes a cycle's
events and only then writes the new checkpoint: a crash in between re-reports (harmless: same
observations), never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from xstream.clients.opentext import OpenTextClient
from xstream.clients.opentext.models import DOCUMENT, FOLDER
from xstream.errors import ConfigError, DeadLetterReason, SinkError, SinkRejected
from xstream.ingress.checkpoint import (
    MAX_CHECKPOINT_BYTES,
    PollCheckpoint,
    SeenDocument,
    StartFrom,
    advance,
    already_reported,
    audit_floor,
    bounded,
    cutoff,
    is_baseline,
    is_settled,
    needs_observation,
    unaccounted,
)
from xstream.ingress.observe import Observer
from xstream.ingress.publisher import EventPublisher
from xstream.model.opentext import (
    AuditChange,
    EventKind,
    Ingress,
    OpenTextEvent,
    observation_id,
    parse_otcs_date,
)
from xstream.observability import Health, Metrics
from xstream.ports import Clock
from xstream.retry import RetryPolicy
from xstream.settings import PollerSettings
from xstream.streams.state import PartitionedStore

log = logging.getLogger(__name__)
AUDIT_CREATE, AUDIT_ADD_VERSION = 1, 4


def kind_of(changes: Iterable[AuditChange]) -> EventKind:
    """What a set of audit entries amounts to: added > new version > attributes changed."""
    found = list(changes)
    if any(c.event_type == AUDIT_CREATE or c.name.casefold() == "create" for c in found):
        return EventKind.DOCUMENT_ADDED
    if any(c.event_type == AUDIT_ADD_VERSION or "version" in c.name.casefold() for c in found):
        return EventKind.VERSION_ADDED
    return EventKind.ATTRIBUTES_CHANGED


@dataclass
class CycleResult:
    events: list[OpenTextEvent]
    checkpoint: PollCheckpoint
    containers: int = 0
    listed: int = 0
    observed: int = 0
    calls: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    """Documents OpenText would not show (document id, why): dead-lettered, not retried until changed."""


@dataclass
class _Listing:
    documents: dict[int, str] = field(default_factory=dict)
    containers: int = 0
    calls: int = 0


class Poller:
    def __init__(self, client: OpenTextClient, observer: Observer, settings: PollerSettings, workspace_types: list[str],
                 clock: Clock, retry: RetryPolicy | None = None) -> None:
        self._retry = retry or RetryPolicy(attempts=1, base_delay_s=0.1, max_delay_s=0.1, deadline_s=1)
        """Each OpenText call of a cycle is retried under the one retry policy: one transient error
        among the dozens of calls of a cycle must not throw the whole cycle away."""
        self._client = client
        self._observer = observer
        self._settings = settings
        self._workspace_types = workspace_types
        self._clock = clock
        self._workflows_supported = True

    async def cycle(self, checkpoint: PollCheckpoint) -> CycleResult:
        s = self._settings
        start_from: StartFrom = s.start_from
        since = cutoff(checkpoint, overlap_s=s.overlap_s, start_from=start_from)
        baseline = is_baseline(checkpoint, start_from)
        calls_before = self._observer.calls
        listing = _Listing()
        containers = [c async for c in self._containers(listing)]
        limit, visited = asyncio.Semaphore(s.concurrency), set[int]()
        await asyncio.gather(*(self._walk(c, since, 0, listing, visited, limit) for c in containers))
        events: list[OpenTextEvent] = []
        observed: dict[int, SeenDocument] = {}
        refused: list[tuple[int, str]] = []
        visible = [d for d in (parse_otcs_date(m) for m in [checkpoint.high_water, *listing.documents.values()]) if d]
        newest_visible = max(visible, default=None)
        for doc_id, modify_date in listing.documents.items():
            if not needs_observation(checkpoint, doc_id, modify_date):
                continue
            try:
                state = await self._retry.run(lambda d=doc_id: self._observer.document_state(d))  # type: ignore[misc]
            except SinkRejected as exc:  # OpenText will not show this one (403, ...): report it, go on
                refused.append((doc_id, str(exc)))
                observed[doc_id] = SeenDocument(event_id=f"refused:{modify_date}", modify_date=modify_date,
                                                observed_at=self._clock.now(), settled=True)
                continue
            if state is None:
                continue
            node, document = state
            event_id, now = observation_id(document), self._clock.now()
            seen = checkpoint.seen.get(str(doc_id))
            observed[doc_id] = SeenDocument(
                event_id=event_id, modify_date=document.modify_date, observed_at=now,
                settled=is_settled(document.modify_date, seen, newest_visible=newest_visible, now=now),
                audit_date=seen.audit_date if seen else None, audit_count=seen.audit_count if seen else 0)
            if already_reported(checkpoint, doc_id, event_id):
                continue
            changes, mark, count = await self._retry.run(
                lambda d=doc_id, s=seen: self._changes(d, since, s, listing))  # type: ignore[misc]
            observed[doc_id] = observed[doc_id].model_copy(update={"audit_date": mark, "audit_count": count})
            if baseline:  # the known state, not a change: the status flow learns it, no rule runs
                events.append(await self._retry.run(lambda n=node, d=document: self._observer.event_for(  # type: ignore[misc]
                    n, d, EventKind.DOCUMENT_ADDED, ingress=Ingress.POLLER, snapshot=True)))
            else:
                events.append(await self._retry.run(lambda n=node, d=document, c=changes: self._observer.event_for(  # type: ignore[misc]
                    n, d, kind_of(c), ingress=Ingress.POLLER, changes=c)))
        workflow_events, reported = await self._workflows(checkpoint, baseline, listing)
        events += workflow_events
        dates = {doc: state.modify_date for doc, state in observed.items()} | listing.documents
        new_checkpoint = advance(checkpoint, listed=dates, observed=observed, workflows=reported,
                                 overlap_s=s.overlap_s, now=self._clock.now())
        return CycleResult(events=events, checkpoint=new_checkpoint, containers=listing.containers,
                           listed=len(listing.documents), observed=len(observed),
                           calls=listing.calls + self._observer.calls - calls_before, refused=refused)

    async def _containers(self, listing: _Listing) -> AsyncIterator[int]:
        if self._workspace_types:
            listing.calls += 1
            known = {t.name.casefold(): t for t in await self._retry.run(self._client.workspace_types)}
            missing = [name for name in self._workspace_types if name.casefold() not in known]
            if missing:
                raise ConfigError(f"poller: OpenText has no workspace type(s) {', '.join(missing)}")
            for name in self._workspace_types:
                page = 1
                while True:
                    listing.calls += 1
                    type_id, at = known[name.casefold()].id, page
                    refs, more = await self._retry.run(lambda t=type_id, p=at: self._client.workspaces_of_type(  # type: ignore[misc]
                        t, page=p, limit=self._settings.page_limit))
                    for ref in refs:
                        yield ref.node_id
                    if not more or not refs:
                        break
                    page += 1
        for folder_id in self._settings.folder_ids:
            yield folder_id

    async def _walk(self, container: int, since: datetime | None, depth: int, listing: _Listing,
                    visited: set[int], limit: asyncio.Semaphore) -> None:
        """A container's documents modified inside the window, then its subfolders (containers walk
        concurrently, at most ``concurrency`` listings at a time)."""
        if container in visited:
            return
        visited.add(container)
        listing.containers += 1
        page = 1
        while True:
            listing.calls += 1
            async with limit:
                chunk = await self._retry.run(lambda p=page: self._client.children(  # type: ignore[misc]
                    container, where_type=DOCUMENT, sort="desc_modify_date", page=p, limit=self._settings.page_limit))
            older = False
            for node in chunk.items:
                modified = parse_otcs_date(node.modify_date)
                if since is not None and modified is not None and modified < since:
                    older = True
                    break
                listing.documents[node.id] = node.modify_date or ""
            if older or not chunk.has_more or not chunk.items:
                break
            page += 1
        if depth >= self._settings.max_depth:
            return
        subfolders: list[int] = []
        page = 1
        while True:
            listing.calls += 1
            async with limit:
                chunk = await self._retry.run(lambda p=page: self._client.children(  # type: ignore[misc]
                    container, where_type=FOLDER, page=p, limit=self._settings.page_limit))
            subfolders += [node.id for node in chunk.items]
            if not chunk.has_more or not chunk.items:
                break
            page += 1
        await asyncio.gather(*(self._walk(f, since, depth + 1, listing, visited, limit) for f in subfolders))

    async def _changes(self, doc_id: int, since: datetime | None, seen: SeenDocument | None,
                       listing: _Listing) -> tuple[list[AuditChange], str | None, int]:
        """The document's audit entries not reported yet, and the new audit mark (see ``unaccounted``)."""
        floor = audit_floor(seen, since)
        entries: list[tuple[datetime | None, AuditChange]] = []
        listing.calls += 1
        async for entry in self._client.iter_node_audit(
                doc_id, date_start=floor.date().isoformat() if floor is not None else None, sort="asc_audit_date"):
            entries.append((parse_otcs_date(entry.audit_date), AuditChange(
                event_type=entry.event_type, name=entry.audit_name, date=entry.audit_date, user_id=entry.user_id)))
        return unaccounted(entries, seen, since)

    async def _workflows(self, checkpoint: PollCheckpoint, baseline: bool,
                         listing: _Listing) -> tuple[list[OpenTextEvent], list[str]]:
        if not self._settings.workflows or not self._workflows_supported:
            return [], []
        listing.calls += 2
        try:
            finished = await self._retry.run(
                lambda: self._client.finished_workflows(retention_days=self._settings.workflow_retention_days))
        except SinkRejected as exc:
            if exc.status == 404 or "mappings registry" in str(exc):  # this release has no such call
                log.warning("poller: this OpenText cannot list finished workflows; workflows are not polled",
                            extra={"error": str(exc)})
                self._workflows_supported = False
            else:
                log.warning("poller: finished workflows could not be listed; trying again next cycle",
                            extra={"error": str(exc)})
            return [], []
        known = set(checkpoint.workflows)
        fresh = [w for w in finished if f"{w.process_id}:{w.status}" not in known]
        events: list[OpenTextEvent] = []
        if not baseline:
            for workflow in fresh:
                events += await self._observer.workflow(workflow.process_id, ingress=Ingress.POLLER)
        return events, [f"{w.process_id}:{w.status}" for w in fresh]


CHECKPOINT_PARTITION = 0
"""The checkpoints topic has one partition: its owner in the poller's group is the one that polls."""


class PollerService:
    """Polls while this worker leads (owns the checkpoint partition); publishes, then checkpoints."""

    def __init__(self, *, poller: Poller, settings: PollerSettings, store: PartitionedStore[PollCheckpoint],
                 publisher: EventPublisher, consumer: AIOKafkaConsumer, checkpoint_topic: str, metrics: Metrics,
                 health: Health) -> None:
        self._poller = poller
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._consumer = consumer
        self._topic = checkpoint_topic
        self._metrics = metrics
        self._health = health
        self.leading = asyncio.Event()
        self.checkpoint: PollCheckpoint | None = None
        self._stopping = asyncio.Event()
        self._keepalive: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._health.expect("poller")
        await self._consumer.start()
        self._consumer.subscribe([self._topic], listener=_Leadership(self))
        self._keepalive = asyncio.create_task(self._stay_in_group())

    async def stop(self) -> None:
        self._stopping.set()
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self._consumer.stop()

    async def _stay_in_group(self) -> None:
        """Fetching keeps the membership (max poll interval); the checkpoint records read are not needed."""
        while not self._stopping.is_set():
            await self._consumer.getmany(timeout_ms=1000)

    def lead(self, leading: bool) -> None:
        self._metrics.poll_leader.set(1 if leading else 0)
        if leading:
            self.leading.set()
        else:
            self.leading.clear()
            self.checkpoint = None  # another worker may move it on: read it again when leading again

    async def run(self) -> None:
        self._health.ready("poller")
        assert self._keepalive is not None, "start() first"
        while not self._stopping.is_set():
            leading = asyncio.ensure_future(self.leading.wait())
            await asyncio.wait([leading, self._keepalive], return_when=asyncio.FIRST_COMPLETED)
            leading.cancel()
            if self._stopping.is_set():
                return
            if self._keepalive.done():  # membership lost for good: let the worker restart
                raise RuntimeError("the poller's consumer stopped") from self._keepalive.exception()
            started = time.monotonic()
            try:
                await self.run_cycle()
            except Exception as exc:  # noqa: BLE001 - a failed cycle is retried from the same checkpoint
                self._metrics.polls.labels("failed").inc()
                level = logging.WARNING if isinstance(exc, SinkError) else logging.ERROR
                log.log(level, "poller cycle failed; retrying from the same checkpoint",
                        exc_info=not isinstance(exc, SinkError), extra={"error": str(exc)})
            finally:
                self._metrics.poll_seconds.observe(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(),
                                       max(0.0, self._settings.interval_s - (time.monotonic() - started)))

    async def run_cycle(self) -> CycleResult | None:
        if self.checkpoint is None:  # leading anew: what the previous leader stored is read first
            await self._store.load([CHECKPOINT_PARTITION])
            stored = self._store.get(self._settings.name, CHECKPOINT_PARTITION)
            self.checkpoint = stored or PollCheckpoint(name=self._settings.name)
            log.info("poller leads", extra={"high_water": self.checkpoint.high_water,
                                            "seen": len(self.checkpoint.seen)})
        result = await self._poller.cycle(self.checkpoint)
        if not self.leading.is_set():
            return None  # revoked meanwhile: the new leader starts from the stored checkpoint
        await self._publisher.publish(result.events)
        for doc_id, why in result.refused:
            await self._publisher.dead_letter(orjson.dumps({"node_id": doc_id}), DeadLetterReason.REJECTED_BY_TARGET,
                                              f"OpenText refused to show document {doc_id}: {why}",
                                              received=f"poller {self._settings.name}")
        checkpoint = bounded(result.checkpoint, MAX_CHECKPOINT_BYTES)
        if len(checkpoint.seen) < len(result.checkpoint.seen):
            log.warning("poller checkpoint cut to fit a record: the oldest reported documents may be reported again",
                        extra={"kept": len(checkpoint.seen), "dropped": len(result.checkpoint.seen) - len(checkpoint.seen)})
        await (await self._store.put(self._settings.name, checkpoint, partition=CHECKPOINT_PARTITION))
        result.checkpoint = checkpoint
        self.checkpoint = result.checkpoint
        self._metrics.polls.labels("ok").inc()
        self._metrics.poll_calls.inc(result.calls)
        mark = parse_otcs_date(result.checkpoint.high_water)
        if mark is not None:
            self._metrics.poll_high_water.set(mark.timestamp())
        log.info("poller cycle", extra={"events": len(result.events), "containers": result.containers,
                                        "listed": result.listed, "observed": result.observed, "calls": result.calls,
                                        "high_water": result.checkpoint.high_water})
        return result


class _Leadership(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: PollerService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            self._service.lead(False)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            log.info("this worker polls OpenText", extra={"partitions": [str(tp) for tp in assigned]})
            self._service.lead(True)
