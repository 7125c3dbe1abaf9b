"""The composition root: builds every part of a worker from settings and wires them together.

Nothing is built at import time. One worker process runs, on one event loop, one publisher (the
only producer) and these components, each a consumer group of its own where it reads Kafka:

    flow cdc_to_workspace     CDC topics -> workspace commands              (group {app}-flow-cdc_to_workspace)
    flow link_back            status events -> link-back commands            (group {app}-flow-link_back)
    flow opentext_status      OpenText events -> downstream commands, state  (group {app}-flow-opentext_status)
    sink opentext             workspace commands -> OpenText                 (group {app}-sink-opentext)
    sink <target>             downstream commands -> one target each         (group {app}-sink-<target>)
    flow documents_in         attachment rows, approval decisions -> document commands (F2, with document rules)
    flow documents_out        OpenText events -> publish commands            (F2, with outbound document rules)
    sink documents            document commands -> OpenText and the sources' attachment APIs
    ingress                   webhook and/or poller -> OpenText events       (when enabled)
    observability             /metrics /healthz /readyz

:class:`Worker` starts them, stops them all (in parallel, within one budget) on SIGTERM/SIGINT,
and exits non-zero when any of them fails: a worker that cannot make an outcome durable stops
rather than acknowledge it, and Kubernetes starts a fresh one that re-reads from the last commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import TypeAdapter

from xstream.breaker import CircuitBreaker
from xstream.clients.opentext import OpenTextClient
from xstream.errors import BrokerUnreachable, ConfigError, XStreamError
from xstream.flows import cdc_workspace, documents, link_back, opentext_status
from xstream.ingress.service import OpenTextIngress
from xstream.kafka import make_consumer
from xstream.model.documents import SourceFormat
from xstream.model.position import position_order
from xstream.observability import Health, Metrics, ObservabilityServer, configure_logging
from xstream.publisher import KafkaPublisher
from xstream.retry import RetryPolicy
from xstream.routing import Router
from xstream.runner import RunnerTopics, SinkRunner
from xstream.settings import ObservabilitySettings, Settings, revoke_budget
from xstream.sinks.document_sources import Sources
from xstream.sinks.document_state import DocumentEntry, DocumentState
from xstream.sinks.documents import DocumentSink
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectEntry, EffectLedger
from xstream.sinks.ledger import Ledger, LedgerEntry
from xstream.sinks.opentext import OpenTextSink
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.flow import FlowRunner, Step
from xstream.streams.loop import LoopSettings, PartitionedLoop, Processor
from xstream.streams.state import KafkaLogReader, PartitionedStore
from xstream.topics import Role, TopicCatalog, load_catalog
from xstream.transform.document_rules import DocumentRuleSet
from xstream.transform.rule_files import (
    DOCUMENT_RULES_DIR,
    RULES_DIR,
    STATUS_RULES_DIR,
    load_document_rule_files,
    load_rule_files,
    load_status_rule_files,
)
from xstream.transform.rules import RuleSet
from xstream.transform.status_engine import DocumentMemory
from xstream.transform.status_rules import StatusRuleSet

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def load_rules(settings: Settings) -> RuleSet:
    """The operator's rules (a file or a directory of them), else every shipped sample."""
    return load_rule_files([settings.worker.rules_file or RULES_DIR])


def load_status_rules(settings: Settings) -> StatusRuleSet:
    """The operator's status rules, else the shipped samples."""
    return load_status_rule_files([settings.worker.status_rules_file or STATUS_RULES_DIR])


def load_document_rules(settings: Settings) -> DocumentRuleSet:
    """The operator's document rules, else the shipped samples."""
    return load_document_rule_files([settings.worker.document_rules_file or DOCUMENT_RULES_DIR])


def document_sources(document_rules: DocumentRuleSet, status_rules: StatusRuleSet) -> set[tuple[str, SourceFormat]]:
    """Every (target, attachment API) the document sink reads from or writes to: the document rules'
    sources and destinations, and where the status rules send the links of locked versions."""
    locked = {(action.lock_version.link_to.target, action.lock_version.link_to.format)
              for rule in status_rules.rules for action in rule.then
              if action.lock_version is not None and action.lock_version.link_to is not None}
    return document_rules.sources() | locked


def check_targets(rules: RuleSet, settings: Settings, status_rules: StatusRuleSet | None = None) -> None:
    """Every target a rule sends commands to must be configured, and be of the kind the commands need
    (records API or chat channels), or its commands would wait forever or fail one by one."""
    missing = sorted({r.link_back.target for r in rules.rules if r.link_back is not None} - settings.targets.keys())
    if missing:
        names = ", ".join(f"XSTREAM_TARGETS__{name.upper()}__BASE_URL" for name in missing)
        raise ConfigError(f"rules link back to target(s) {', '.join(missing)}, which are not configured: set {names}")
    if status_rules is None:
        return
    problems = []
    for target, kinds in sorted(status_rules.targets().items()):
        configured = settings.targets.get(target)
        needed = "notify" if kinds == {"notify"} else "records"
        if configured is None:
            variable = "CHANNELS__<CHANNEL>" if needed == "notify" else "BASE_URL"
            problems.append(f"status rules send {', '.join(sorted(kinds))} to target {target}, which is not "
                            f"configured: set XSTREAM_TARGETS__{target.upper()}__{variable}"
                            + (f" and XSTREAM_TARGETS__{target.upper()}__KIND=notify" if needed == "notify" else ""))
        elif "notify" in kinds and len(kinds) > 1:
            problems.append(f"status rules send notify and {', '.join(sorted(kinds - {'notify'}))} to target "
                            f"{target}: a target is either a records API or chat channels")
        elif configured.kind != needed:
            problems.append(f"status rules send {', '.join(sorted(kinds))} to target {target}, a {configured.kind} "
                            f"target: set XSTREAM_TARGETS__{target.upper()}__KIND={needed}")
    for target, channels in sorted(status_rules.fixed_channels().items()):
        configured = settings.targets.get(target)
        unknown = sorted(c for c in channels if c.casefold() not in configured.channels) if configured else []
        if unknown:
            problems.append(f"status rules notify channel(s) {', '.join(unknown)} of target {target}, which has "
                            f"no such channel: set XSTREAM_TARGETS__{target.upper()}__CHANNELS__<CHANNEL>")
    if problems:
        raise ConfigError("\n".join(problems))


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class LoopComponent:
    """A consumer loop and what it drives (a sink runner starts and closes its sink)."""

    name: str
    loop: PartitionedLoop
    on_start: Callable[[], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        if self.on_start is not None:
            await self.on_start()
        await self.loop.start()

    async def run(self) -> None:
        await self.loop.run()

    async def stop(self) -> None:
        try:
            await self.loop.stop()
        finally:
            if self.on_stop is not None:
                await self.on_stop()


@dataclass
class IngressComponent:
    make: Callable[[], OpenTextIngress]
    name: str = "ingress"
    ingress: OpenTextIngress | None = None

    async def start(self) -> None:
        self.ingress = self.make()
        await self.ingress.start()

    async def run(self) -> None:
        assert self.ingress is not None
        await self.ingress.run()

    async def stop(self) -> None:
        if self.ingress is not None:
            await self.ingress.stop()


@dataclass
class ObservabilityComponent:
    server: ObservabilityServer
    name: str = "observability"

    async def start(self) -> None:
        await self.server.start()
        log.info("observability listening", extra={"port": self.server.port})

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        await self.server.stop()


class Worker:
    """Starts the components, runs them until a stop signal or the first failure, stops them all."""

    def __init__(self, publisher: KafkaPublisher, components: list[Component], stop_budget_s: float,
                 closers: list[Callable[[], Awaitable[None]]] | None = None) -> None:
        self.publisher = publisher
        self.components = components
        self._stop_budget_s = stop_budget_s
        # Release the clients built before the start (the consumers), also those of components that never
        # started: a start that fails leaves no unclosed client behind to be reported at exit.
        self._closers = closers or []
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        started: list[Component] = []
        tasks: dict[asyncio.Task[None], Component] = {}
        code = 0
        try:
            await self.publisher.start()
            for component in self.components:
                await component.start()
                started.append(component)
            tasks = {asyncio.create_task(c.run(), name=c.name): c for c in started}
            stopper: asyncio.Task[Any] = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for task in (t for t in done if t is not stopper):
                code = 1
                error = task.exception() if not task.cancelled() else None
                log.critical("a worker component stopped; stopping the worker so it is restarted",
                             extra={"component": tasks[task].name, "error": repr(error)}, exc_info=error)
            stopper.cancel()
        except (ConfigError, BrokerUnreachable):
            raise  # what to fix is in the message: reported in one line by run_worker, without a traceback
        except Exception as exc:
            log.critical("the worker could not start", extra={"error": f"{type(exc).__name__}: {exc}"}, exc_info=exc)
            code = 1
        finally:
            await self._stop_all(started, tasks)
        log.info("worker stopped", extra={"exit_code": code})
        return code

    async def _stop_all(self, started: list[Component], tasks: dict[asyncio.Task[None], Component]) -> None:
        """Every component at once, within one budget (a sink waits for its calls in flight)."""
        async def stop(component: Component) -> None:
            try:
                await component.stop()
            except Exception:
                log.exception("stopping a component failed", extra={"component": component.name})

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(stop(c) for c in reversed(started))), self._stop_budget_s)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.publisher.stop()
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()


def build_worker(settings: Settings, *, catalog: TopicCatalog | None = None,
                 metrics: Metrics | None = None) -> Worker:
    """Every component of one worker, wired; call on the running event loop."""
    catalog = catalog or load_catalog(prefix=settings.kafka.topic_prefix, targets=settings.targets)
    router = Router(catalog)
    rules, status_rules = load_rules(settings), load_status_rules(settings)
    document_rules = load_document_rules(settings)
    check_targets(rules, settings, status_rules)
    sources = Sources.from_settings(settings.targets, document_sources(document_rules, status_rules))
    metrics, health, clock = metrics or Metrics(), Health(settings.observability.stall_after_s), SystemClock()
    kafka, worker = settings.kafka, settings.worker
    publisher, reader = KafkaPublisher(kafka), KafkaLogReader(kafka)
    topic = {role: catalog.one(role).name for role in (Role.STATUS, Role.DEAD_LETTER, Role.LEDGER, Role.EFFECTS,
                                                      Role.STATE, Role.OPENTEXT_EVENTS)}
    dead_letters = DeadLetters(publisher, topic[Role.DEAD_LETTER], metrics, clock)
    loop_settings = LoopSettings(max_in_flight=worker.max_in_flight, commit_interval_s=worker.commit_interval_s,
                                 revoke_budget_s=revoke_budget(settings), gap_recheck_s=kafka.profile.gap_recheck_s)

    def partitions_of(name: str) -> Callable[[], Awaitable[int]]:
        return lambda: publisher.partitions(name)

    closers: list[Callable[[], Awaitable[None]]] = []

    def loop(kind: str, name: str, topics: list[str], processor: Processor) -> PartitionedLoop:
        group = f"{worker.app_id}-{kind}-{name}"
        consumer = make_consumer(kafka, group)
        closers.append(consumer.stop)  # idempotent: a loop that ran has stopped it already
        return PartitionedLoop(name=f"{kind}:{name}", consumer=consumer, topics=topics,
                               processor=processor, group=group, metrics=metrics, health=health,
                               settings=loop_settings)

    def flow(name: str, topics: list[str], step: Step[Any], store: PartitionedStore[Any] | None = None) -> Component:
        runner: FlowRunner[Any] = FlowRunner(
            name, step, publisher=publisher, dead_letters=dead_letters, metrics=metrics,
            max_record_bytes=worker.max_record_bytes, store=store,
            input_partitions=partitions_of(topics[0]) if store is not None else None,
            gap_recheck_s=kafka.profile.gap_recheck_s)
        return LoopComponent(f"flow:{name}", loop("flow", name, topics, runner))

    def sink(runner: SinkRunner, commands: str) -> Component:
        return LoopComponent(f"sink:{runner.name}", loop("sink", runner.name, [commands], runner),
                             on_start=runner.start, on_stop=runner.close)

    def sink_runner(sink_: Any, commands: str, command_type: TypeAdapter[Any], breaker: Any,
                    concurrency: int) -> SinkRunner:
        return SinkRunner(
            sink=sink_, publisher=publisher,
            topics=RunnerTopics(commands=commands, status=topic[Role.STATUS], dead_letter=topic[Role.DEAD_LETTER]),
            retry=RetryPolicy.from_settings(settings.retry), pause_s=settings.retry.pause_s, clock=clock,
            metrics=metrics, dead_letters=dead_letters, command_type=command_type, concurrency=concurrency,
            max_record_bytes=worker.max_record_bytes, breaker=CircuitBreaker.from_settings(breaker),
            input_partitions=partitions_of(commands), gap_recheck_s=kafka.profile.gap_recheck_s)

    components: list[Component] = [ObservabilityComponent(ObservabilityServer(settings.observability, metrics, health))]
    components.append(flow(cdc_workspace.FLOW, cdc_workspace.source_topics(rules, kafka.topic_prefix),
                           cdc_workspace.make_step(rules=rules, router=router,
                                                   max_record_bytes=worker.max_record_bytes, metrics=metrics,
                                                   topic_prefix=kafka.topic_prefix)))
    if any(rule.link_back is not None for rule in rules.rules):
        components.append(flow(link_back.FLOW, [topic[Role.STATUS]],
                               link_back.make_step(rules=rules, router=router,
                                                   max_record_bytes=worker.max_record_bytes)))
    memory: PartitionedStore[DocumentMemory] = PartitionedStore(
        publisher=publisher, reader=reader, topic=topic[Role.STATE],
        prefix=f"{worker.app_id}:{opentext_status.TABLE}:", adapter=TypeAdapter(DocumentMemory))
    components.append(flow(opentext_status.FLOW, [topic[Role.OPENTEXT_EVENTS]],
                           opentext_status.make_step(rules=status_rules,
                                                     router=router,
                                                     max_record_bytes=worker.max_record_bytes, metrics=metrics),
                           store=memory))
    ledger: PartitionedStore[LedgerEntry] = PartitionedStore(
        publisher=publisher, reader=reader, topic=topic[Role.LEDGER], prefix="opentext:",
        adapter=TypeAdapter(LedgerEntry))
    workspace_route = router.for_sink("opentext")
    workspace_commands = router.topic_of_sink(workspace_route)
    components.append(sink(sink_runner(OpenTextSink(settings.opentext, Ledger(ledger, position_order)),
                                       workspace_commands, workspace_route.command_type,
                                       settings.opentext.breaker, settings.opentext.concurrency),
                           workspace_commands))
    target_route = router.for_sink("target")
    for name, target in sorted(settings.targets.items()):
        effects: PartitionedStore[EffectEntry] = PartitionedStore(
            publisher=publisher, reader=reader, topic=topic[Role.EFFECTS], prefix=f"{name}:",
            adapter=TypeAdapter(EffectEntry))
        commands = router.topic_of_sink(target_route, name)
        components.append(sink(sink_runner(DownstreamSink(name, target, EffectLedger(effects)), commands,
                                           target_route.command_type, target.breaker, target.concurrency),
                               commands))
    if document_rules.topics:
        components.append(flow(documents.FLOW_IN, documents.inbound_topics(document_rules, kafka.topic_prefix),
                               documents.make_inbound_step(rules=document_rules, router=router,
                                                           max_record_bytes=worker.max_record_bytes, metrics=metrics,
                                                           topic_prefix=kafka.topic_prefix)))
    if document_rules.outbound:
        components.append(flow(documents.FLOW_OUT, [topic[Role.OPENTEXT_EVENTS]],
                               documents.make_outbound_step(rules=document_rules, router=router,
                                                            max_record_bytes=worker.max_record_bytes)))
    document_store: PartitionedStore[DocumentEntry] = PartitionedStore(
        publisher=publisher, reader=reader, topic=catalog.one(Role.DOCUMENT_STATE).name, prefix="",
        adapter=TypeAdapter(DocumentEntry))
    document_route = router.for_sink("documents")
    document_commands = router.topic_of_sink(document_route)
    document_sink = DocumentSink(opentext=OpenTextClient(settings.opentext), sources=sources,
                                 state=DocumentState(document_store), settings=settings.documents,
                                 opentext_settings=settings.opentext, attributes=document_rules.attributes,
                                 metrics=metrics)
    components.append(sink(sink_runner(document_sink, document_commands, document_route.command_type,
                                       settings.documents.breaker, settings.documents.concurrency),
                           document_commands))
    if settings.webhook.enabled or settings.poller.enabled:
        components.append(IngressComponent(lambda: OpenTextIngress(
            settings, catalog, status_rules, metrics, health, clock, publisher=publisher,
            dead_letters=dead_letters, reader=reader)))
    return Worker(publisher, components, stop_budget_s=revoke_budget(settings) + 5.0, closers=closers)


def run_worker(settings: Settings) -> int:
    """Run a worker until it stops; the exit code: 2 for a configuration it refuses (rules, targets),
    1 for a broker it cannot reach or a component that failed."""
    configure_logging(settings.observability)
    url = settings.opentext.base_url
    log.info("worker starting", extra={"bootstrap": settings.kafka.bootstrap, "flavour": settings.kafka.flavour.value,
                                       "opentext": f"{url.scheme}://{url.host}:{url.port}{url.path or ''}",
                                       "app_id": settings.worker.app_id})
    try:
        return asyncio.run(serve(settings))
    except ConfigError as exc:
        return start_failed(exc, settings.observability, code=2)
    except BrokerUnreachable as exc:
        return start_failed(exc, settings.observability, code=1)


def start_failed(error: XStreamError, observability: ObservabilitySettings, *, code: int) -> int:
    """Report a fatal error at start as the worker reports everything else: with JSON logs (the default)
    one JSON line (level CRITICAL, msg, error), which a log pipeline parses like every other line and
    alerts on; with console logs the plain message. No traceback: the message says what to fix.
    Logging must be configured (``configure_logging``). Returns ``code``, the process's exit code."""
    if observability.log_format == "json":
        log.critical("the worker could not start", extra={"error": str(error), "exit_code": code})
    else:
        print(f"xstream: {error}", file=sys.stderr)
    return code


async def serve(settings: Settings) -> int:
    """Build (aiokafka clients need the running loop) and run a worker; the process's exit code."""
    return await build_worker(settings).run()
