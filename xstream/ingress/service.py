"""The OpenText ingress of one worker, built from settings: the webhook server, the poller, or both.

Both share one OpenText client (its own session, apart from the sink's) and build observations
the same way (each with its own :class:`~xstream.ingress.observe.Observer`, whose call count the
poller reports), so their observations of one state of a document are identical.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import TypeAdapter

from xstream.clients.opentext import OpenTextClient
from xstream.errors import ConfigError
from xstream.ingress.checkpoint import PollCheckpoint
from xstream.ingress.observe import Observer
from xstream.ingress.poller import Poller, PollerService
from xstream.ingress.publisher import EventPublisher
from xstream.ingress.webhook import WebhookServer
from xstream.kafka import make_consumer
from xstream.observability import Health, Metrics
from xstream.ports import Clock, Publisher
from xstream.retry import RetryPolicy
from xstream.settings import Settings
from xstream.streams.dead_letters import DeadLetters
from xstream.streams.state import LogReader, PartitionedStore
from xstream.topics import Role, TopicCatalog
from xstream.transform.status_rules import StatusRuleSet

log = logging.getLogger(__name__)


def watched_workspace_types(settings: Settings, rules: StatusRuleSet) -> list[str]:
    """The poller's workspace types: as configured, else those the status rules name."""
    if settings.poller.workspace_types is not None:
        return settings.poller.workspace_types
    types = rules.workspace_types()
    if types is None and not settings.poller.folder_ids:
        raise ConfigError("poller: a status rule looks at every workspace type, so say what to watch: set "
                          "XSTREAM_POLLER__WORKSPACE_TYPES (JSON list) or XSTREAM_POLLER__FOLDER_IDS")
    return types or []


class OpenTextIngress:
    def __init__(self, settings: Settings, catalog: TopicCatalog, rules: StatusRuleSet, metrics: Metrics,
                 health: Health, clock: Clock, *, publisher: Publisher, dead_letters: DeadLetters,
                 reader: LogReader) -> None:
        self._settings = settings
        self.client = OpenTextClient(settings.opentext)
        events = EventPublisher(publisher, events_topic=catalog.one(Role.OPENTEXT_EVENTS).name,
                                dead_letters=dead_letters, metrics=metrics)
        self.webhook: WebhookServer | None = None
        if settings.webhook.enabled:
            self.webhook = WebhookServer(settings.webhook, Observer(self.client, settings.opentext, clock), events,
                                         metrics)
            health.expect("webhook")
        self.poller: PollerService | None = None
        if settings.poller.enabled:
            checkpoints = catalog.one(Role.CHECKPOINTS).name
            poller = Poller(self.client, Observer(self.client, settings.opentext, clock), settings.poller,
                            watched_workspace_types(settings, rules), clock, RetryPolicy.from_settings(settings.retry))
            self.poller = PollerService(
                poller=poller, settings=settings.poller,
                store=PartitionedStore(publisher=publisher, reader=reader, topic=checkpoints, prefix="poller:",
                                       adapter=TypeAdapter(PollCheckpoint)),
                publisher=events,
                consumer=make_consumer(settings.kafka, f"{settings.worker.app_id}-poller-{settings.poller.name}"),
                checkpoint_topic=checkpoints, metrics=metrics, health=health)
        self._health = health

    @property
    def enabled(self) -> bool:
        return self.webhook is not None or self.poller is not None

    async def start(self) -> None:
        if self.webhook is not None:
            await self.webhook.start()
            self._health.ready("webhook")
            log.info("webhook listening", extra={"port": self.webhook.port, "path": self._settings.webhook.path})
        if self.poller is not None:
            await self.poller.start()

    async def run(self) -> None:
        if self.poller is not None:
            await self.poller.run()
        else:
            await asyncio.Event().wait()

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.webhook is not None:
            await self.webhook.stop()
        await self.client.close()
