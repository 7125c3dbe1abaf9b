"""Metrics defined in one place, JSON logging, and the /metrics /healthz /readyz server.

/healthz answers while the process's event loop runs (liveness). /readyz fails until every
component reported ready, and again when a partition has lag but made no progress for
``stall_after_s`` (a silently stalled consumer is the classic failure of Python stream workers),
unless it waits on purpose (its target's breaker is open, its target keeps failing, backpressure):
readiness fails only for what a restart or a traffic shift can fix. /status says, per flow and
sink and partition, what is committed, lagging, in flight, paused and why, and each sink's breaker
and last error.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from xstream.http.server import WebServer
from xstream.settings import ObservabilitySettings


class Metrics:
    """Every metric xstream exports. One instance per process; tests build their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("xstream_events", "CDC/OpenText events read, by flow and outcome",
                              ["flow", "outcome"], registry=r)
        self.tombstones = Counter("xstream_tombstones", "Tombstones seen (expected after deletes)",
                                  ["topic"], registry=r)
        self.decode_failures = Counter("xstream_decode_failures", "Records that could not be decoded",
                                       ["reason"], registry=r)
        self.dead_letters = Counter("xstream_dead_letters", "Records sent to the dead-letter topic",
                                    ["stage", "reason"], registry=r)
        self.commands = Counter("xstream_commands", "Commands finished by a sink, by outcome",
                                ["sink", "outcome"], registry=r)
        self.sink_latency = Histogram("xstream_sink_write_seconds", "Time of one sink write (one attempt)",
                                      ["sink"], registry=r,
                                      buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.retries = Counter("xstream_sink_retries", "Sink attempts that ended in a transient failure",
                               ["sink"], registry=r)
        self.paused = Counter("xstream_partition_pauses", "Partitions paused after retries ran out",
                              ["sink"], registry=r)
        self.breaker_open = Gauge("xstream_breaker_open", "1 while the circuit breaker of a sink is open",
                                  ["sink"], registry=r)
        self.echoes = Counter("xstream_echoes_suppressed", "CDC echoes of xstream's own writes, dropped",
                              ["flow"], registry=r)
        self.documents = Counter("xstream_documents", "Document sink results (F2), by what was done: created, "
                                 "version, same_content, recovered, marked, attributes, locked, link, copy",
                                 ["action"], registry=r)
        self.document_bytes = Counter("xstream_document_bytes", "Document bytes streamed into OpenText (F2), by "
                                      "upload path (single request or Large File Upload parts)", ["path"], registry=r)
        self.lag = Gauge("xstream_consumer_lag", "Records behind the log end, per partition",
                         ["group", "topic", "partition"], registry=r)
        self.held = Gauge("xstream_partition_held",
                          "1 while a partition waits on purpose (target failing, breaker open, backpressure); "
                          "see /status for why", ["group", "topic", "partition"], registry=r)
        self.last_progress = Gauge("xstream_partition_last_progress_seconds",
                                   "Unix time of the last committed progress per partition",
                                   ["group", "topic", "partition"], registry=r)
        # OpenText ingress and the status rules (flows F3, F6)
        self.rule_commands = Counter("xstream_status_rule_commands", "Downstream commands made by status rules",
                                     ["rule", "kind"], registry=r)
        self.opentext_skipped = Counter("xstream_opentext_events_skipped",
                                        "OpenText events that changed nothing (stale, duplicate, snapshot)",
                                        ["why"], registry=r)
        self.ingress_events = Counter("xstream_ingress_events", "OpenText events published, by ingress and kind",
                                      ["ingress", "kind"], registry=r)
        self.webhook_requests = Counter("xstream_webhook_requests", "Webhook requests by HTTP status answered",
                                        ["status"], registry=r)
        self.webhook_rejected = Counter("xstream_webhook_rejected",
                                        "Webhook requests refused: unsigned, bad_signature, stale, replayed, "
                                        "too_large, invalid", ["reason"], registry=r)
        self.polls = Counter("xstream_poller_cycles", "Poller cycles by outcome (ok, failed)", ["outcome"],
                             registry=r)
        self.poll_seconds = Histogram("xstream_poller_cycle_seconds", "Duration of one poller cycle", registry=r,
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.poll_calls = Counter("xstream_poller_opentext_calls", "OpenText calls made by the poller",
                                  registry=r)
        self.poll_high_water = Gauge("xstream_poller_high_water_seconds",
                                     "The poller's high-water mark (newest modify date seen), as Unix time",
                                     registry=r)
        self.poll_leader = Gauge("xstream_poller_leader", "1 while this worker is the one that polls", registry=r)


class Health:
    """Readiness: named components report in; partitions report progress and lag."""

    def __init__(self, stall_after_s: float, clock: Any = time.monotonic) -> None:
        self._stall_after_s = stall_after_s
        self._clock = clock
        self._components: dict[str, bool] = {}
        self._progress: dict[tuple[str, int], tuple[float, int]] = {}
        self._held: dict[tuple[str, int], str] = {}
        self._sources: dict[str, Callable[[], dict[str, Any]]] = {}

    def expect(self, *components: str) -> None:
        for name in components:
            self._components.setdefault(name, False)

    def ready(self, component: str, is_ready: bool = True) -> None:
        self._components[component] = is_ready

    def progressed(self, topic: str, partition: int, lag: int) -> None:
        self._progress[(topic, partition)] = (self._clock(), lag)

    def waiting(self, topic: str, partition: int, lag: int) -> None:
        """A poll that found nothing new: lag 0 counts as progress, a lag that stays does not."""
        last, _ = self._progress.get((topic, partition), (self._clock(), 0))
        self._progress[(topic, partition)] = (self._clock() if lag == 0 else last, lag)

    def hold(self, topic: str, partition: int, why: str | None) -> None:
        """A partition that waits on purpose (its target's breaker is open, its target keeps failing,
        it is paused for backpressure): not a stall. A restart would not help; it must not take the
        pod out of its Service. ``None`` ends the hold (its stall clock starts again)."""
        if why is None:
            if self._held.pop((topic, partition), None) is not None:
                last, lag = self._progress.get((topic, partition), (self._clock(), 0))
                self._progress[(topic, partition)] = (self._clock(), lag)
        else:
            self._held[(topic, partition)] = why

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        for tp in partitions:
            self._progress.pop(tp, None)
            self._held.pop(tp, None)

    def problems(self) -> list[str]:
        """What a restart or a traffic shift could fix: a component not started, a partition with lag
        that makes no progress and has no reason to wait."""
        found = [f"{name} not ready" for name, ok in sorted(self._components.items()) if not ok]
        now = self._clock()
        for (topic, partition), (last, lag) in sorted(self._progress.items()):
            if (topic, partition) in self._held:
                continue
            if lag > 0 and now - last > self._stall_after_s:
                found.append(f"{topic}/{partition} stalled: lag {lag}, no progress for {now - last:.0f}s")
        return found

    def register(self, name: str, source: Callable[[], dict[str, Any]]) -> None:
        """A section of ``/status``: called on every request (cheap, no I/O)."""
        self._sources[name] = source

    def status(self) -> dict[str, Any]:
        return {"ready": not self.problems(), "problems": self.problems(),
                "components": dict(sorted(self._components.items())),
                "held": {f"{t}/{p}": why for (t, p), why in sorted(self._held.items())},
                **{name: source() for name, source in sorted(self._sources.items())}}


def build_web_app(metrics: Metrics, health: Health) -> web.Application:
    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        problems = health.problems()
        return web.json_response({"ready": not problems, "problems": problems}, status=503 if problems else 200)

    async def status(_: web.Request) -> web.Response:
        return web.json_response(health.status(), dumps=lambda doc: orjson.dumps(doc, default=str).decode())

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/status", status)
    return app


class ObservabilityServer(WebServer):
    def __init__(self, settings: ObservabilitySettings, metrics: Metrics, health: Health) -> None:
        super().__init__(build_web_app(metrics, health), settings.host, settings.port)


_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(settings: ObservabilitySettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
        handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("aiokafka",):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
