"""An xstream stack per test on the session's broker: own topic prefix, own emulator, real worker processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream_emulators.notify import (
    DEFAULT_CHANNELS,
    NotifyEmulatorConfig,
    RunningNotifyEmulator,
    start_notify_emulator,
)
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.conftest import Broker
from xstream.clients.opentext import OpenTextClient
from xstream.demo.harness import HARNESS_TARGETS, CdcForwarder, Collector, WorkerProcess, worker_env
from xstream.kafka import apply_topics
from xstream.settings import BrokerFlavour, KafkaSettings, OpenTextSettings
from xstream.topics import Role, TopicCatalog, load_catalog

pytestmark = pytest.mark.integration


TARGETS = ("erp", "crm", "project_tool")
"""The targets the shipped sample rules link back to; each gets its own ERP/CRM emulator. The sample
status rules also notify the chat target "chat": a notification emulator with the default channels."""


@dataclass
class Stack:
    broker: Broker
    prefix: str
    emulator: RunningEmulator
    catalog: TopicCatalog
    tmp: Path
    chat: RunningNotifyEmulator
    targets: dict[str, RunningErpEmulator] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)
    collectors: list[Collector] = field(default_factory=list)
    forwarders: list[CdcForwarder] = field(default_factory=list)

    def topic(self, role: Role) -> str:
        return self.catalog.one(role).name

    @property
    def cdc_topic(self) -> str:
        return f"{self.prefix}erp.cdc.customers"

    def start_worker(self, app_id: str = "xstream-test", **extra_env: str) -> WorkerProcess:
        env = worker_env(bootstrap=self.broker.bootstrap, flavour=self.broker.flavour,
                         opentext_url=self.emulator.url, topic_prefix=self.prefix,
                         app_id=f"{self.prefix}{app_id}", targets={n: t.url for n, t in self.targets.items()},
                         chat={c: self.chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS}, extra=extra_env)
        worker = WorkerProcess(env, self.tmp / f"worker-{len(self.workers)}.log").start()
        self.workers.append(worker)
        return worker

    async def collect(self, *roles: Role) -> Collector:
        collector = await Collector(self.broker.bootstrap, *(self.topic(r) for r in roles)).start()
        self.collectors.append(collector)
        return collector

    async def admin(self, what: str, method: str = "GET", json: Any = None, *, target: str | None = None) -> Any:
        """The OpenText emulator's admin API, or a target emulator's with ``target`` ("chat": the notifications)."""
        base = self.chat.admin_url if target == "chat" else self.targets[target].admin_url if target \
            else self.emulator.admin_url
        async with aiohttp.ClientSession() as http, http.request(method, f"{base}/{what}", json=json) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def forward_cdc(self, target: str, topic_for: Callable[[str], str]) -> CdcForwarder:
        """Play Debezium for a target emulator: its change log -> the (prefixed) CDC topics."""
        forwarder = await CdcForwarder(self.targets[target].admin_url, self.broker.bootstrap,
                                       lambda entity: self.prefix + topic_for(entity)).start()
        self.forwarders.append(forwarder)
        return forwarder

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log_tail(3000)}" for w in self.workers)


@pytest.fixture
def opentext_config() -> OpenTextEmulatorConfig:
    """The OpenText emulator's settings; a test module overrides this fixture for others (e.g. small parts)."""
    return OpenTextEmulatorConfig()


@pytest.fixture
async def stack(broker: Broker, tmp_path: Path, opentext_config: OpenTextEmulatorConfig) -> AsyncIterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    catalog = load_catalog(prefix=prefix, targets=HARNESS_TARGETS)
    await apply_topics(KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour(broker.flavour)), catalog.specs)
    emulator = await start_opentext_emulator(opentext_config)
    targets = {name: await start_erp_emulator(ErpEmulatorConfig()) for name in TARGETS}
    chat = await start_notify_emulator(NotifyEmulatorConfig())
    st = Stack(broker, prefix, emulator, catalog, tmp_path, chat, targets)
    try:
        yield st
    finally:
        for worker in st.workers:
            worker.stop()
        for collector in st.collectors:
            await collector.stop()
        for forwarder in st.forwarders:
            await forwarder.stop()
        await emulator.stop()
        await chat.stop()
        for target in targets.values():
            await target.stop()


@pytest.fixture
async def opentext(stack: Stack) -> AsyncIterator[OpenTextClient]:
    """A client of the stack's OpenText emulator: what OpenText users do, through the REST API."""
    async with OpenTextClient(OpenTextSettings(base_url=stack.emulator.url)) as client:
        yield client
