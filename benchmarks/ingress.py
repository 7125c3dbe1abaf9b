"""Benchmark of flows F3/F6 and the OpenText ingress; prints figures, asserts nothing.

    .venv/bin/python -m benchmarks.ingress [--changes 50] [--workspaces 10 100 400]

1. the pure status engine: evaluations/s of the shipped rules on one core;
2. the poller's cost: OpenText calls and seconds per cycle against the emulator, for a number of
   watched workspaces (two folders each) with nothing changed, and with one document changed;
3. end to end on the embedded broker with a real worker: N contracts reach "Legal Review Done" in
   OpenText, one after another; latency from the status change to the approval's status event
   (p50/p95/max) and changes/s, through the webhook alone, the poller alone (1 s interval) and
   both at once (events published per change; approvals and messages per change).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from xstream_emulators.embedded import EmbeddedBroker, free_port
from xstream_emulators.erp import ErpEmulatorConfig, start_erp_emulator
from xstream_emulators.notify import DEFAULT_CHANNELS, NotifyEmulatorConfig, start_notify_emulator
from xstream_emulators.opentext import OpenTextEmulatorConfig, start_opentext_emulator

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import HARNESS_TARGETS, Collector, WorkerProcess, wait_ready, worker_env
from xstream.demo.opentext_user import file_document, set_status, workspace_for
from xstream.ingress.checkpoint import PollCheckpoint
from xstream.ingress.observe import Observer
from xstream.ingress.poller import Poller
from xstream.kafka import apply_topics
from xstream.model.business import BusinessObject
from xstream.model.opentext import (
    DocumentState,
    EventKind,
    EventWorkspace,
    Ingress,
    OpenTextEvent,
    observation_id,
)
from xstream.model.record import RecordRef
from xstream.settings import BrokerFlavour, KafkaSettings, OpenTextSettings, PollerSettings
from xstream.topics import Role, load_catalog
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files
from xstream.transform.status_engine import DocumentMemory, evaluate

SECRET = "benchmark-webhook-secret-0123"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def bench_engine(rounds: int = 20_000) -> float:
    rules = load_status_rule_files([STATUS_RULES_DIR])
    ws = EventWorkspace(node_id=1, name="Globex", type_name="Supplier", url="u",
                        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="1"))
    doc = DocumentState(node_id=2, name="c.pdf", url="u", modify_date="2026-12-01T07:16:20",
                        attributes={"Document": {"Document Type": "Contract", "Status": "Legal Review Done"}})
    event = OpenTextEvent(event_id=observation_id(doc), kind=EventKind.ATTRIBUTES_CHANGED, ingress=Ingress.WEBHOOK,
                          document=doc, workspace=ws, observed_at=Clock().now())
    before = DocumentMemory(event_id="x" * 20, modify_date="2026-12-01T07:00:00",
                            attributes={"Document": {"Document Type": "Contract", "Status": "In Legal Review"}})
    record = RecordRef(topic="opentext.events", partition=0, offset=0)
    started = time.perf_counter()
    for _ in range(rounds):
        evaluate(rules, event, before, record)
    return rounds / (time.perf_counter() - started)


async def suppliers(client: OpenTextClient, count: int, *, folders: int = 0) -> list[int]:
    found = []
    for i in range(count):
        ws = await workspace_for(client, "Supplier", BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                       bo_id=f"{i:010d}"), f"Supplier {i:04d}")
        for f in range(folders):
            await client.ensure_folder_path(ws, [f"Folder {f}"])
        found.append(ws)
    return found


async def bench_poller_cost(workspace_counts: list[int], latency_ms: float) -> list[dict[str, float]]:
    rows = []
    for count in workspace_counts:
        async with await start_opentext_emulator(OpenTextEmulatorConfig()) as emulator:
            settings = OpenTextSettings(base_url=emulator.url)  # type: ignore[arg-type]
            async with OpenTextClient(settings) as client:
                workspaces = await suppliers(client, count, folders=2)
                doc = await file_document(client, workspaces[0], "Contract.pdf", document_type="Contract",
                                          status="Draft")

                def poller(concurrency: int, settings: OpenTextSettings = settings) -> Poller:
                    return Poller(client, Observer(client, settings, Clock()),
                                  PollerSettings(enabled=True, concurrency=concurrency), ["Supplier"], Clock())

                baseline = await poller(4).cycle(PollCheckpoint(name="bench"))
                if latency_ms:
                    await _json(f"{emulator.admin_url}/faults", "POST", {"latency_ms": [latency_ms, latency_ms]})
                timings = {}
                for concurrency in (1, 4):
                    started = time.perf_counter()
                    idle = await poller(concurrency).cycle(baseline.checkpoint)
                    timings[concurrency] = time.perf_counter() - started
                await asyncio.sleep(1.1)  # the next cycle settles the baseline's observations
                await set_status(client, doc, "Legal Review Done")
                started = time.perf_counter()
                changed = await poller(4).cycle(idle.checkpoint)
                changed_s = time.perf_counter() - started
        rows.append({"workspaces": count, "containers": idle.containers, "idle_calls": idle.calls,
                     "idle_s_1": timings[1], "idle_s_4": timings[4], "changed_calls": changed.calls,
                     "changed_s": changed_s, "events": len(changed.events), "baseline_calls": baseline.calls})
    return rows


async def _json(url: str, method: str = "GET", body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as resp:
        return await resp.json()


async def bench_end_to_end(changes: int, mode: str) -> dict[str, float]:
    """``mode``: webhook, poller or both."""
    with EmbeddedBroker() as broker:
        async with await start_opentext_emulator(OpenTextEmulatorConfig()) as emulator, \
                await start_erp_emulator(ErpEmulatorConfig()) as erp, \
                await start_notify_emulator(NotifyEmulatorConfig()) as chat:
            catalog = load_catalog(targets=HARNESS_TARGETS)
            await apply_topics(KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour.TANSU), catalog.specs)
            status, events = catalog.one(Role.STATUS).name, catalog.one(Role.OPENTEXT_EVENTS).name
            settings = OpenTextSettings(base_url=emulator.url)  # type: ignore[arg-type]
            async with OpenTextClient(settings) as client:
                docs = await _contracts(client, changes)
                port = free_port()
                extra: dict[str, str] = {}
                if mode in ("webhook", "both"):
                    extra |= {"XSTREAM_WEBHOOK__ENABLED": "true", "XSTREAM_WEBHOOK__HOST": "127.0.0.1",
                              "XSTREAM_WEBHOOK__PORT": str(port), "XSTREAM_WEBHOOK__SECRET": SECRET}
                if mode in ("poller", "both"):
                    extra |= {"XSTREAM_POLLER__ENABLED": "true", "XSTREAM_POLLER__INTERVAL_S": "1"}
                env = worker_env(bootstrap=broker.bootstrap, flavour="tansu", opentext_url=emulator.url,
                                 targets=dict.fromkeys(("erp", "crm", "project_tool"), erp.url),
                                 chat={c: chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS}, extra=extra)
                collector = await Collector(broker.bootstrap, status, events).start()
                worker = WorkerProcess(env, Path(tempfile.mkdtemp()) / "worker.log").start()
                try:
                    assert await wait_ready(worker, 120), worker.log_tail()
                    if mode in ("webhook", "both"):
                        await _json(f"{emulator.admin_url}/hooks", "POST",
                                    {"url": f"http://127.0.0.1:{port}/hooks/opentext", "secret": SECRET})
                    if mode in ("poller", "both"):  # the baseline scan (snapshots) is done first
                        await collector.wait_for(lambda: len(collector.records[events]) >= len(docs), 120)
                    changed_at: dict[int, float] = {}
                    started = time.time()
                    for doc in docs:
                        changed_at[doc] = time.time()
                        await set_status(client, doc, "Legal Review Done")
                    await collector.wait_for(lambda: len(_approved(collector, status)) >= len(docs), 300)
                    elapsed = max(_approved(collector, status).values(), default=time.time()) - started
                    await asyncio.sleep(3.0)  # late duplicates
                    latencies = [_approved(collector, status)[d] - changed_at[d] for d in docs
                                 if d in _approved(collector, status)]
                    published = [orjson.loads(r.value) for r in collector.records[events]]
                    approvals = (await _json(f"{erp.admin_url}/state"))["records"].get("approvals", [])
                    messages = (await _json(f"{chat.admin_url}/messages"))["count"]
                    calls = await _json(f"{emulator.admin_url}/calls")
                finally:
                    worker.stop()
                    await collector.stop()
    return {"changes": len(docs), "seconds": elapsed, "per_s": len(docs) / elapsed if elapsed else float("nan"),
            "p50": statistics.median(latencies), "p95": _p95(latencies), "max": max(latencies),
            "events_per_change": sum(not e["snapshot"] for e in published) / len(docs),
            "approvals": len(approvals), "messages": messages, "opentext_calls": sum(calls.values())}


async def _contracts(client: OpenTextClient, count: int) -> list[int]:
    workspaces = await suppliers(client, max(1, count // 5))
    return [await file_document(client, workspaces[i % len(workspaces)], f"Contract {i:04d}.pdf",
                                document_type="Contract", status="In Legal Review") for i in range(count)]


def _approved(collector: Collector, topic: str) -> dict[int, float]:
    """Document -> when its approval's status event was produced (the broker record's timestamp)."""
    found: dict[int, float] = {}
    for record in collector.records[topic]:
        status = orjson.loads(record.value)
        if status["command_kind"] == "start_approval" and status.get("document"):
            found.setdefault(status["document"]["node_id"], record.timestamp / 1000)
    return found


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--workspaces", type=int, nargs="+", default=[10, 100, 400])
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="latency the OpenText emulator adds to each call (a real server: 20-50 ms)")
    args = parser.parse_args()
    print(f"status engine: {bench_engine():,.0f} evaluations/s (shipped rules, one core)")
    latency = f", {args.latency_ms:.0f} ms per OpenText call" if args.latency_ms else ""
    for row in asyncio.run(bench_poller_cost(args.workspaces, args.latency_ms)):
        print(f"poller, {row['workspaces']} workspaces ({row['containers']:.0f} containers{latency}): first scan "
              f"{row['baseline_calls']:.0f} calls; idle cycle {row['idle_calls']:.0f} calls in {row['idle_s_1']:.2f}s "
              f"(concurrency 1) / {row['idle_s_4']:.2f}s (concurrency 4); cycle with 1 change "
              f"{row['changed_calls']:.0f} calls in {row['changed_s']:.2f}s ({row['events']:.0f} event)")
    for mode in ("webhook", "poller", "both"):
        f = asyncio.run(bench_end_to_end(args.changes, mode))
        print(f"end to end via {mode}: {f['changes']:.0f} changes in {f['seconds']:.1f}s ({f['per_s']:.1f}/s); "
              f"status change -> approval p50 {f['p50'] * 1000:.0f} ms, p95 {f['p95'] * 1000:.0f} ms, max "
              f"{f['max'] * 1000:.0f} ms; {f['events_per_change']:.2f} events per change; {f['approvals']:.0f} "
              f"approvals, {f['messages']:.0f} messages; {f['opentext_calls']:.0f} OpenText calls")


if __name__ == "__main__":
    main()
