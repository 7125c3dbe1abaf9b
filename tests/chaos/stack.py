"""What one crash-suite run stands on: topics with their own prefix, in-process emulators, worker slots.

A *slot* is one replica of the deployment: it keeps its ports (metrics, webhook) across restarts, so a
restarted worker answers the OpenText hook at the same URL, as a pod behind a Service would. Every
worker of every slot runs with the same app id (same consumer groups): a restart is a fresh process
taking over in the group, never a new deployment. Everything started here is stopped by
:meth:`ChaosStack.close`, on every exit path.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from xstream_emulators.embedded import die_with_parent, free_port
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream_emulators.notify import (
    DEFAULT_CHANNELS,
    NotifyEmulatorConfig,
    RunningNotifyEmulator,
    start_notify_emulator,
)
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from xstream.demo.harness import HARNESS_TARGETS, Collector, WorkerProcess, worker_env
from xstream.kafka import apply_topics
from xstream.settings import BrokerFlavour, KafkaSettings
from xstream.topics import Role, TopicCatalog, load_catalog

WEBHOOK_SECRET = "crash-suite-webhook-secret-2026"
TARGETS = ("erp", "crm", "project_tool")
"""Every target the sample rules name must be configured; only "erp" receives anything here (the suite
feeds ERP customers only), so all three point at the one ERP emulator."""


class SourceWorker(WorkerProcess):
    """A worker run from another source tree (``python -m xstream worker`` with that tree first on the path
    and as the working directory), e.g. an exported commit, to compare it with the working tree."""

    source: Path | None = None

    def start(self) -> WorkerProcess:
        if self.source is None:
            return super().start()
        env = {**os.environ, **self.env, "XSTREAM_OBSERVABILITY__PORT": str(self.metrics_port),
               "XSTREAM_OBSERVABILITY__HOST": "127.0.0.1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(self.source), os.environ.get("PYTHONPATH")]))}
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "xstream", "worker"], env=env, cwd=self.source, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        return self


@dataclass
class Slot:
    index: int
    env: dict[str, str]
    log_dir: Path
    metrics_port: int = field(default_factory=free_port)
    webhook_port: int = field(default_factory=free_port)
    worker: WorkerProcess | None = None
    starts: int = 0
    started_at: float = 0.0
    source: Path | None = None
    """Run the worker from this source tree instead of the installed xstream."""

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/hooks/opentext"

    def start(self) -> WorkerProcess:
        env = self.env | {"XSTREAM_WEBHOOK__PORT": str(self.webhook_port)}
        log_path = self.log_dir / f"worker-{self.index}-{self.starts}.log"
        worker = SourceWorker(env, log_path, metrics_port=self.metrics_port)
        worker.source = self.source
        self.worker = worker.start()
        self.starts += 1
        self.started_at = time.monotonic()
        return self.worker

    def kill(self) -> None:
        if self.worker is not None:
            self.worker.kill()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout_s=10)
            self.worker = None


@dataclass
class ChaosStack:
    bootstrap: str
    flavour: str
    prefix: str
    catalog: TopicCatalog
    opentext: RunningEmulator
    erp: RunningErpEmulator
    chat: RunningNotifyEmulator
    log_dir: Path
    app_id: str
    slots: list[Slot] = field(default_factory=list)
    collector: Collector | None = None
    _http: aiohttp.ClientSession | None = None

    @classmethod
    async def open(cls, bootstrap: str, flavour: str, log_dir: Path) -> ChaosStack:
        prefix = f"chaos{uuid.uuid4().hex[:8]}."
        catalog = load_catalog(prefix=prefix, targets=HARNESS_TARGETS)
        await apply_topics(KafkaSettings(bootstrap=bootstrap, flavour=BrokerFlavour(flavour)), catalog.specs)
        opentext = await start_opentext_emulator(OpenTextEmulatorConfig())
        erp = chat = None
        try:
            erp = await start_erp_emulator(ErpEmulatorConfig())
            chat = await start_notify_emulator(NotifyEmulatorConfig())
        except BaseException:
            await opentext.stop()
            if erp is not None:
                await erp.stop()
            raise
        log_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
        return cls(bootstrap, flavour, prefix, catalog, opentext, erp, chat, log_dir, f"{prefix}xstream-chaos")

    def topic(self, role: Role) -> str:
        return self.catalog.one(role).name

    @property
    def cdc_topic(self) -> str:
        return f"{self.prefix}erp.cdc.customers"

    def add_slots(self, count: int, extra_env: dict[str, str], source: Path | None = None) -> list[Slot]:
        for index in range(len(self.slots), len(self.slots) + count):
            env = worker_env(bootstrap=self.bootstrap, flavour=self.flavour, opentext_url=self.opentext.url,
                             topic_prefix=self.prefix, app_id=self.app_id,
                             targets=dict.fromkeys(TARGETS, self.erp.url),
                             chat={c: self.chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS},
                             extra={"XSTREAM_WEBHOOK__ENABLED": "true", "XSTREAM_WEBHOOK__HOST": "127.0.0.1",
                                    "XSTREAM_WEBHOOK__SECRET": WEBHOOK_SECRET, **extra_env})
            self.slots.append(Slot(index, env, self.log_dir, source=source))
        return self.slots

    async def collect(self) -> Collector:
        self.collector = await Collector(self.bootstrap, self.topic(Role.STATUS), self.topic(Role.DEAD_LETTER),
                                         self.topic(Role.OPENTEXT_EVENTS)).start()
        return self.collector

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._http

    async def admin(self, system: str, what: str, method: str = "GET", json: Any = None,
                    params: dict[str, str] | None = None) -> Any:
        """An emulator's admin API: system "opentext", "erp" or "chat"."""
        base = {"opentext": self.opentext.admin_url, "erp": self.erp.admin_url, "chat": self.chat.admin_url}[system]
        async with self.http().request(method, f"{base}/{what}", json=json, params=params) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise AdminError(system, what, resp.status, body)
            return body

    def logs(self, chars: int = 2500) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("worker-*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    async def close(self) -> None:
        """Stop everything this stack started, whatever fails on the way."""
        for slot in self.slots:
            with contextlib.suppress(Exception):
                slot.stop()
        if self.collector is not None:
            with contextlib.suppress(Exception):
                await self.collector.stop()
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()
        for emulator in (self.opentext, self.erp, self.chat):
            with contextlib.suppress(Exception):
                await emulator.stop()


class AdminError(RuntimeError):
    def __init__(self, system: str, what: str, status: int, body: Any) -> None:
        super().__init__(f"{system} /admin/{what}: HTTP {status}: {body}")
        self.status = status
        self.body = body
