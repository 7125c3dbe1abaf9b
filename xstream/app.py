"""The composition root: builds every part of a worker from settings and wires them together.

Nothing is built at import time. One worker process runs, on one event loop:
the Faust app (decode/map agents), the sink runner (its own aiokafka consumer group, with the
commit order of runner.py), and the observability server.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import mode
from pydantic import TypeAdapter

from xstream.breaker import CircuitBreaker
from xstream.errors import ConfigError
from xstream.flows import cdc_workspace, link_back, opentext_status
from xstream.flows.common import DeadLetters
from xstream.ingress.service import OpenTextIngress
from xstream.kafka import CompactedTopicStore, KafkaLedgerStore, make_consumer, make_producer
from xstream.model.commands import DownstreamCommand, WorkspaceCommand
from xstream.model.position import position_order
from xstream.observability import Health, Metrics, ObservabilityServer, configure_logging
from xstream.ports import Sink
from xstream.retry import RetryPolicy
from xstream.runner import RunnerTopics, SinkRunner
from xstream.settings import BreakerSettings, Settings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectEntry, EffectLedger
from xstream.sinks.ledger import Ledger
from xstream.sinks.opentext import OpenTextSink
from xstream.topics import Role, TopicCatalog, load_catalog
from xstream.transform.rule_files import RULES_DIR, STATUS_RULES_DIR, load_rule_files, load_status_rule_files
from xstream.transform.rules import RuleSet
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


def _for_target(name: str) -> Callable[[Any], bool]:
    def accepts(command: Any) -> bool:
        return bool(command.target == name)

    return accepts


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


def build_faust_app(settings: Settings, datadir: Path) -> faust.App:
    profile = settings.kafka.profile
    return faust.App(
        settings.worker.app_id,
        broker=settings.kafka.faust_url,
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        processing_guarantee="at_least_once",
        broker_session_timeout=profile.session_timeout_ms / 1000,
        broker_heartbeat_interval=profile.heartbeat_interval_ms / 1000,
        broker_rebalance_timeout=profile.rebalance_timeout_ms / 1000,
        producer_linger=profile.producer_linger_ms / 1000,
        producer_acks=-1 if profile.acks == "all" else profile.acks,
        topic_replication_factor=settings.kafka.replication_factor,
        topic_partitions=settings.kafka.topic_partitions,
        consumer_auto_offset_reset="earliest",
    )


class RunnerService(mode.Service):
    """Runs a SinkRunner under the Faust worker, so it starts and stops with it.

    The runner is built in on_start because aiokafka clients must be created on the running loop.
    """

    def __init__(self, make_runner: Callable[[], SinkRunner], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._make_runner = make_runner
        self.runner: SinkRunner | None = None

    async def on_start(self) -> None:
        self.runner = self._make_runner()
        await self.runner.start()

    @mode.Service.task
    async def _run(self) -> None:
        assert self.runner is not None
        try:
            await self.runner.run()
        except Exception:
            log.exception("sink runner crashed; stopping the worker so Kubernetes restarts it")
            await self.crash(RuntimeError("sink runner crashed"))

    async def on_stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()


class IngressService(mode.Service):
    """Runs the OpenText ingress (webhook server, poller) under the Faust worker; built on the running loop."""

    def __init__(self, make_ingress: Callable[[], OpenTextIngress], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._make_ingress = make_ingress
        self.ingress: OpenTextIngress | None = None

    async def on_start(self) -> None:
        self.ingress = self._make_ingress()
        await self.ingress.start()

    @mode.Service.task
    async def _run(self) -> None:
        assert self.ingress is not None
        try:
            await self.ingress.run()
        except Exception:
            log.exception("OpenText ingress crashed; stopping the worker so Kubernetes restarts it")
            await self.crash(RuntimeError("OpenText ingress crashed"))

    async def on_stop(self) -> None:
        if self.ingress is not None:
            await self.ingress.stop()


class ObservabilityService(mode.Service):
    def __init__(self, server: ObservabilityServer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server = server

    async def on_start(self) -> None:
        await self.server.start()
        log.info("observability listening", extra={"port": self.server.port})

    async def on_stop(self) -> None:
        await self.server.stop()


def build_worker(settings: Settings, *, datadir: Path, catalog: TopicCatalog | None = None) -> faust.Worker:
    catalog = catalog or load_catalog(prefix=settings.kafka.topic_prefix)
    rules, status_rules = load_rules(settings), load_status_rules(settings)
    check_targets(rules, settings, status_rules)
    metrics, health, clock = Metrics(), Health(settings.observability.stall_after_s), SystemClock()
    status, dlq = catalog.one(Role.STATUS).name, catalog.one(Role.DEAD_LETTER).name
    workspace_topics = RunnerTopics(commands=catalog.one(Role.COMMANDS).name, status=status, dead_letter=dlq)
    downstream_topics = RunnerTopics(commands=catalog.one(Role.DOWNSTREAM_COMMANDS).name, status=status,
                                     dead_letter=dlq)
    app = build_faust_app(settings, datadir)
    dead_letters = DeadLetters(app, dlq, metrics, clock)
    cdc_workspace.register(
        app, rules=rules, commands_topic=workspace_topics.commands, dead_letters=dead_letters,
        max_record_bytes=settings.worker.max_record_bytes, metrics=metrics, topic_prefix=settings.kafka.topic_prefix,
    )
    if any(rule.link_back is not None for rule in rules.rules):
        link_back.register(app, rules=rules, status_topic=status, downstream_topic=downstream_topics.commands,
                           dead_letters=dead_letters, metrics=metrics)
    opentext_status.register(app, rules=status_rules, events_topic=catalog.one(Role.OPENTEXT_EVENTS).name,
                             downstream_topic=downstream_topics.commands, dead_letters=dead_letters,
                             max_record_bytes=settings.worker.max_record_bytes, metrics=metrics)
    health.expect("faust", "sink:opentext", *(f"sink:{name}" for name in settings.targets))

    async def faust_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        health.ready("faust")

    app.on_rebalance_complete.connect(faust_ready)
    def runner_factory(name: str, topics: RunnerTopics, make_sink: Callable[[], Sink[Any]],
                       command_type: TypeAdapter[Any], breaker: BreakerSettings,
                       accepts: Callable[[Any], bool] = lambda command: True,
                       dead_letter_undecodable: bool = True) -> Callable[[], SinkRunner]:
        group = f"{settings.worker.app_id}-sink-{name}"

        def make_runner() -> SinkRunner:
            return SinkRunner(
                consumer=make_consumer(settings.kafka, group), producer=make_producer(settings.kafka, f"sink-{name}"),
                sink=make_sink(), topics=topics, retry=RetryPolicy.from_settings(settings.retry),
                pause_s=settings.retry.pause_s, clock=clock, metrics=metrics, health=health, group_id=group,
                command_type=command_type, accepts=accepts, breaker=CircuitBreaker.from_settings(breaker),
                dead_letter_undecodable=dead_letter_undecodable,
                batch_max=settings.worker.batch_max_records,
            )

        return make_runner

    factories = [runner_factory(
        "opentext", workspace_topics,
        lambda: OpenTextSink(settings.opentext, Ledger(order=position_order),
                             store=KafkaLedgerStore(settings.kafka, catalog.one(Role.LEDGER).name, "opentext")),
        TypeAdapter(WorkspaceCommand), settings.opentext.breaker)]
    effects = catalog.one(Role.EFFECTS).name
    for index, (name, target) in enumerate(sorted(settings.targets.items())):
        store = CompactedTopicStore(settings.kafka, effects, f"{name}:", EffectEntry, lambda e: e.idempotency_key)
        factories.append(runner_factory(
            name, downstream_topics,
            functools.partial(DownstreamSink, name, target, effects=EffectLedger(store)),
            TypeAdapter(DownstreamCommand), target.breaker, accepts=_for_target(name),
            dead_letter_undecodable=index == 0))
    ingress = [IngressService(lambda: OpenTextIngress(settings, catalog, status_rules, metrics, health, clock))
               ] if settings.webhook.enabled or settings.poller.enabled else []

    observability = ObservabilityServer(settings.observability, metrics, health)
    return faust.Worker(
        app,
        ObservabilityService(observability),
        *(RunnerService(factory) for factory in factories),
        *ingress,
        loglevel=settings.observability.log_level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
        workdir=str(datadir),
    )


def run_worker(settings: Settings) -> None:
    configure_logging(settings.observability)
    url = settings.opentext.base_url
    log.info("worker starting", extra={"bootstrap": settings.kafka.bootstrap, "flavour": settings.kafka.flavour.value,
                                       "opentext": f"{url.scheme}://{url.host}:{url.port}{url.path or ''}",
                                       "app_id": settings.worker.app_id})
    with tempfile.TemporaryDirectory(prefix="xstream-faust-") as datadir:
        build_worker(settings, datadir=Path(datadir)).execute_from_commandline()
