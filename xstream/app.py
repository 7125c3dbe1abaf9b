"""The composition root: builds every part of a worker from settings and wires them together.

Nothing is built at import time. One worker process runs, on one event loop:
the Faust app (decode/map agents), the sink runner (its own aiokafka consumer group, with the
commit order of runner.py), and the observability server.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import mode

from xstream.flows import cdc_workspace
from xstream.kafka import make_consumer, make_producer
from xstream.observability import Health, Metrics, ObservabilityServer, configure_logging
from xstream.retry import RetryPolicy
from xstream.runner import RunnerTopics, SinkRunner
from xstream.settings import Settings
from xstream.sinks.ledger import Ledger
from xstream.sinks.opentext import OpenTextSink
from xstream.topics import Role, TopicCatalog, load_catalog
from xstream.transform.rules import RuleSet, parse_rules

log = logging.getLogger(__name__)

SAMPLE_RULES = Path(__file__).parent / "rules" / "erp_customers.yaml"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def load_rules(settings: Settings) -> RuleSet:
    path = settings.worker.rules_file or SAMPLE_RULES
    return parse_rules(path.read_text(), str(path))


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
    rules = load_rules(settings)
    metrics, health, clock = Metrics(), Health(settings.observability.stall_after_s), SystemClock()
    topics = RunnerTopics(
        commands=catalog.one(Role.COMMANDS).name,
        status=catalog.one(Role.STATUS).name,
        dead_letter=catalog.one(Role.DEAD_LETTER).name,
    )
    app = build_faust_app(settings, datadir)
    cdc_workspace.register(
        app, rules=rules, commands_topic=topics.commands, dead_letter_topic=topics.dead_letter,
        max_record_bytes=settings.worker.max_record_bytes, metrics=metrics, clock=clock,
        topic_prefix=settings.kafka.topic_prefix,
    )
    health.expect("faust", "sink:opentext")

    async def faust_ready(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        health.ready("faust")

    app.on_rebalance_complete.connect(faust_ready)
    group = f"{settings.worker.app_id}-sink-opentext"

    def make_runner() -> SinkRunner:
        return SinkRunner(
            consumer=make_consumer(settings.kafka, group),
            producer=make_producer(settings.kafka, "sink-opentext"),
            sink=OpenTextSink(settings.opentext, Ledger()),
            topics=topics,
            retry=RetryPolicy.from_settings(settings.retry),
            pause_s=settings.retry.pause_s,
            clock=clock,
            metrics=metrics,
            health=health,
            group_id=group,
            batch_max=settings.worker.batch_max_records,
        )

    observability = ObservabilityServer(settings.observability, metrics, health)
    return faust.Worker(
        app,
        ObservabilityService(observability),
        RunnerService(make_runner),
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
