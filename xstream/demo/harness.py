"""Running a whole xstream locally: a worker process, a producer of CDC records, collectors of outputs.

The demo and the integration tests drive the real thing through these: a real broker, a real
``xstream worker`` process (the same entry point Kubernetes runs), and the OpenText emulator over
HTTP. Every child process is stopped on every exit path and dies with its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from xstream_emulators.embedded import die_with_parent, free_port

from xstream.demo.scenario import CdcRecord

log = logging.getLogger(__name__)


HARNESS_TARGETS = ("erp", "crm", "project_tool", "chat")
"""The downstream targets the demo, tests and benchmarks configure (the records targets the sample rules
link back to, and the chat target the sample status rules notify): their command topics are created."""


@dataclass
class WorkerProcess:
    """``python -m xstream worker`` with settings passed as XSTREAM_* environment variables."""

    env: dict[str, str]
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.env, "XSTREAM_OBSERVABILITY__PORT": str(self.metrics_port),
               "XSTREAM_OBSERVABILITY__HOST": "127.0.0.1"}
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "xstream", "worker"], env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, as when a pod is OOM-killed."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


async def wait_ready(worker: WorkerProcess, timeout_s: float) -> bool:
    """Until the worker's /readyz answers 200 (False when it died or the time ran out)."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and worker.running:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with aiohttp.ClientSession() as http, http.get(f"{worker.base_url}/readyz") as resp:
                if resp.status == 200:
                    return True
        await asyncio.sleep(0.25)
    return False


async def fetch_metrics(base_url: str) -> str:
    """The worker's ``/metrics`` text ("" when it does not answer)."""
    import aiohttp

    with contextlib.suppress(aiohttp.ClientError, OSError):
        async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as resp:
            return await resp.text()
    return ""


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of metric ``name`` (e.g. ``xstream_events_total``) in a ``/metrics`` text,
    over those carrying every one of ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        sample_name, _, label_text = sample.partition("{")
        if sample_name == name and labels.items() <= dict(_LABEL.findall(label_text)).items():
            total += float(value)
    return total


def notify_target_env(name: str, channels: dict[str, str], fmt: str = "slack") -> dict[str, str]:
    """Settings of a chat target: its format and the incoming-webhook URL of each channel."""
    return {f"XSTREAM_TARGETS__{name.upper()}__KIND": "notify", f"XSTREAM_TARGETS__{name.upper()}__FORMAT": fmt,
            **{f"XSTREAM_TARGETS__{name.upper()}__CHANNELS__{channel.upper()}": url
               for channel, url in channels.items()}}


def worker_env(*, bootstrap: str, flavour: str, opentext_url: str, topic_prefix: str = "",
               app_id: str | None = None, targets: dict[str, str] | None = None,
               chat: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Settings for a worker process; ``targets`` maps a records target's name to its base URL, ``chat``
    a channel of the chat target (named "chat", as the sample status rules say) to its webhook URL."""
    target_env = {f"XSTREAM_TARGETS__{name.upper()}__BASE_URL": url for name, url in (targets or {}).items()}
    if chat:
        target_env |= notify_target_env("chat", chat)
    return {
        **target_env,
        "XSTREAM_KAFKA__BOOTSTRAP": bootstrap,
        "XSTREAM_KAFKA__FLAVOUR": flavour,
        "XSTREAM_KAFKA__TOPIC_PREFIX": topic_prefix,
        "XSTREAM_OPENTEXT__BASE_URL": opentext_url,
        "XSTREAM_WORKER__APP_ID": app_id or f"xstream-{uuid.uuid4().hex[:8]}",
        "XSTREAM_OBSERVABILITY__LOG_FORMAT": "json",
        "XSTREAM_RETRY__PAUSE_S": "2",
        **(extra or {}),
    }


async def produce(bootstrap: str, topic: str, records: Iterable[CdcRecord]) -> list[int]:
    """Send in order with one producer; returns the partition of each record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=r.key, value=r.value) for r in records]
        return [(await f).partition for f in futures]
    finally:
        await producer.stop()


class Collector:
    """Reads topics from the beginning into memory, in the background, for the demo and tests to watch."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=f"xstream-collector-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest", enable_auto_commit=False,
            session_timeout_ms=4000, heartbeat_interval_ms=1000,
        )
        self.records: dict[str, list[ConsumerRecord[bytes, bytes]]] = {t: [] for t in topics}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Collector:
        await self._consumer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=200)
                for tp, records in batches.items():
                    self.records[tp.topic].extend(records)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("collector stopped reading")
            raise

    async def wait_for(self, done: Callable[[], bool], timeout_s: float,
                       on_tick: Callable[[], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if on_tick:
                on_tick()
            if done():
                return True
            await asyncio.sleep(0.2)
        return done()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


class CdcForwarder:
    """Plays Debezium for an emulated ERP/CRM: its change log -> one CDC topic per entity.

    Polls ``GET {admin_url}/changes?since=<lsn>`` and produces each change (key ``{"id": ...}``,
    value the Debezium envelope, in the JSON converter's ``schema``/``payload`` wrapper) in lsn order.
    """

    def __init__(self, admin_url: str, bootstrap: str, topic_for: Callable[[str], str | None],
                 poll_s: float = 0.2) -> None:
        self._admin_url = admin_url
        self._bootstrap = bootstrap
        self._topic_for = topic_for
        self._poll_s = poll_s
        self._since = 0
        self.forwarded: list[tuple[str, CdcRecord]] = []
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> CdcForwarder:
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=False, linger_ms=0)
        await self._producer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        import aiohttp
        import orjson

        assert self._producer is not None
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"{self._admin_url}/changes", params={"since": str(self._since)}) as resp:
                    page = await resp.json()
                for change in page["changes"]:
                    topic = self._topic_for(change["entity"])
                    if topic is not None:
                        record = CdcRecord(orjson.dumps(change["key"]),
                                           orjson.dumps({"schema": {"type": "struct"}, "payload": change["value"]}),
                                           change["value"]["op"])
                        await self._producer.send_and_wait(topic, key=record.key, value=record.value)
                        self.forwarded.append((topic, record))
                    self._since = max(self._since, change["lsn"])
                if not page["changes"]:
                    await asyncio.sleep(self._poll_s)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer:
            await self._producer.stop()


class IntakeForwarder:
    """Plays the mail connector and the forms portal's producer for an emulated intake: its outbox -> Kafka.

    Polls ``GET {admin_url}/outbox?since=<seq>`` and produces each item in seq order: a mail to
    ``{topic_prefix}{mail_topic}`` (key the Message-ID without angle brackets, value the raw MIME
    bytes), a form submission to ``{topic_prefix}{forms_topic}`` (key the submission id, value its
    JSON). A message inlines attachments up to the intake's ``inline_limit``, so the producer's
    ``max_request_size`` is raised above Kafka's 1 MiB default (the topic must allow it too).
    """

    def __init__(self, admin_url: str, bootstrap: str, *, mail_topic: str = "mail.inbound",
                 forms_topic: str = "forms.submissions", topic_prefix: str = "", poll_s: float = 0.2,
                 max_request_size: int = 16 * 1024 * 1024) -> None:
        self._admin_url = admin_url
        self._bootstrap = bootstrap
        self.topics = {"mail": f"{topic_prefix}{mail_topic}", "form": f"{topic_prefix}{forms_topic}"}
        self._poll_s = poll_s
        self._max_request_size = max_request_size
        self.last_seq = 0
        """The seq of the last item produced (or skipped: an unknown kind)."""
        self.forwarded: list[tuple[str, CdcRecord]] = []
        """(topic, record) in the order produced; the record's label is the item's kind."""
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> IntakeForwarder:
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=False, linger_ms=0,
                                          max_request_size=self._max_request_size)
        await self._producer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        import base64

        import aiohttp

        assert self._producer is not None
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"{self._admin_url}/outbox", params={"since": str(self.last_seq)}) as resp:
                    page = await resp.json()
                for item in page["items"]:
                    topic = self.topics.get(item["kind"])
                    if topic is not None:
                        record = CdcRecord(item["key"].encode(), base64.b64decode(item["value_b64"]), item["kind"])
                        await self._producer.send_and_wait(topic, key=record.key, value=record.value)
                        self.forwarded.append((topic, record))
                    self.last_seq = max(self.last_seq, item["seq"])
                if not page["items"]:
                    await asyncio.sleep(self._poll_s)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer:
            await self._producer.stop()
