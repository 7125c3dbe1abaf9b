"""Benchmark of flow F2 (ERP attachments -> OpenText documents); prints figures, asserts nothing.

    .venv/bin/python -m benchmarks.documents [--big-mib 500] [--small 1000] [--rounds 3]

Everything runs end to end on the embedded broker with a real ``xstream worker`` process; the ERP
and OpenText emulators run as their own processes (``xstream emulate erp|opentext``), the ERP's
change feed is forwarded to the CDC topics as Debezium would (:class:`CdcForwarder`).

1. One big document (``--big-mib``, default 500 MiB, generated and posted streamed) attached to a
   supplier whose workspace exists: seconds from the end of the attachment post to the worker's
   ``store_document`` status event, MB/s, whether Large File Upload (``/api/v2/multipart``) was
   used, and the worker's peak RSS (VmHWM; target < 150 MiB). Side by side in each round, a bare
   stream copy of the same bytes over the same two hops (the ERP's SAP ``$value`` download streamed
   into ``OpenTextClient.upload_document``, no Kafka, no sink): the ratio xstream MB/s / bare MB/s
   (target >= 0.8). ``--rounds`` pairs, medians reported.
2. ``--small`` documents of 4 KiB into the workspaces of 10 suppliers (a first document per
   supplier warms the caches and creates the folder): documents/s from the first post to the last
   status event, and OpenText calls per document from the emulator's ``/admin/calls`` (total,
   writes, per operation) for: a new document into an existing folder (target <= 2), a new version
   with other bytes, a version with the same bytes (target 0 writes), and a replay by a second
   worker with another app id reading every topic from offset 0 (target 0 calls).

Every process started (broker, emulators, workers) is stopped on every exit path; files go to a
temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import ConsumerRecord
from pydantic import HttpUrl
from xstream_emulators.embedded import EmbeddedBroker, die_with_parent, free_port
from xstream_emulators.notify import DEFAULT_CHANNELS, NotifyEmulatorConfig, start_notify_emulator

from benchmarks.f1 import peak_rss_mib
from benchmarks.upload_memory import stop_emulator, wait_for_port
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.content import Body, ContentInfo
from xstream.demo.harness import (
    HARNESS_TARGETS,
    CdcForwarder,
    Collector,
    WorkerProcess,
    wait_ready,
    worker_env,
)
from xstream.demo.opentext_user import workspace_for
from xstream.http.streams import ResponseBody
from xstream.kafka import apply_topics
from xstream.settings import BrokerFlavour, KafkaSettings, OpenTextSettings
from xstream.topics import Role, load_catalog

MIB = 1 << 20
SMALL_BYTES = 4096
SUPPLIERS = 10
WRITES = frozenset({
    "nodes.create", "nodes.update", "nodes.delete", "categories.apply", "categories.update",
    "categories.delete", "versions.add", "versions.delete", "versions.update", "versions.lock",
    "versions.unlock", "versions.promote",
    "multipart.start", "multipart.part", "multipart.complete", "multipart.cancel", "workspaces.create"})
"""The OpenText emulator's operations that change something."""
NO_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)


def supplier_id(n: int) -> str:
    return f"{300_000 + n:010d}"


def emulator(kind: str, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``xstream emulate <kind>`` as its own process (dies with this one), content under ``work``."""
    port = free_port()
    with (work / f"{kind}.log").open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "xstream", "emulate", kind, "--port", str(port),
             "--content-dir", str(work / f"{kind}-content")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent)  # noqa: PLW1509 - the child dies with this process
    return proc, port


async def big_body(size: int) -> AsyncIterator[bytes]:
    """A PDF-ish body of ``size`` random bytes, 1 MiB at a time (never held whole)."""
    head = b"%PDF-1.7\n"
    yield head
    left = size - len(head)
    while left > 0:
        chunk = os.urandom(min(MIB, left))
        left -= len(chunk)
        yield chunk


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in sorted(after.items()) if n != before.get(op, 0)}


@dataclass
class Phase:
    name: str
    docs: int
    seconds: float
    calls: dict[str, int]
    outcomes: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITES)


@dataclass
class Stack:
    erp_port: int
    ot_port: int
    collector: Collector
    status_topic: str
    http: aiohttp.ClientSession
    work: Path
    env: dict[str, str]
    workers: list[WorkerProcess] = field(default_factory=list)
    _stores: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    _seen: int = 0

    @property
    def erp_admin(self) -> str:
        return f"http://127.0.0.1:{self.erp_port}/admin"

    def start_worker(self, app_id: str) -> WorkerProcess:
        env = {**self.env, "XSTREAM_WORKER__APP_ID": app_id}
        worker = WorkerProcess(env, self.work / f"worker-{app_id}.log").start()
        self.workers.append(worker)
        return worker

    def stores(self) -> list[tuple[dict[str, Any], int]]:
        """The ``store_document`` status events so far, with their timestamps (ms), decoded once."""
        records: list[ConsumerRecord[bytes, bytes]] = self.collector.records[self.status_topic]
        for record in records[self._seen:]:
            status = orjson.loads(record.value)
            if status.get("command_kind") == "store_document":
                self._stores.append((status, record.timestamp))
        self._seen = len(records)
        return self._stores

    async def wait_stores(self, count: int, timeout_s: float) -> list[tuple[dict[str, Any], int]]:
        alive = [w for w in self.workers if w.running]
        ok = await self.collector.wait_for(
            lambda: len(self.stores()) >= count or not all(w.running for w in alive), timeout_s)
        if not ok or len(self.stores()) < count:
            tails = "\n".join(f"--- {w.log_path.name}\n{w.log_tail(3000)}" for w in self.workers)
            raise RuntimeError(f"{len(self.stores())} of {count} store_document events after "
                               f"{timeout_s:.0f} s\n{tails}")
        return self.stores()

    async def quiet(self, seconds: float = 3.0) -> None:
        last, since = -1, 0.0
        while since < seconds:
            count = len(self.collector.records[self.status_topic])
            since, last = (since + 0.5 if count == last else 0.0), count
            await asyncio.sleep(0.5)

    async def calls(self) -> dict[str, int]:
        async with self.http.get(f"http://127.0.0.1:{self.ot_port}/admin/calls") as resp:
            resp.raise_for_status()
            return dict(await resp.json())

    async def attach(self, supplier: str, name: str, body: Any, *,
                     version_of: str | None = None) -> dict[str, Any]:
        """What an ERP user does: attach a purchase order to the supplier (or a new version of one)."""
        if version_of is None:
            url, params = f"{self.erp_admin}/attachments", {
                "bo_type": "LFA1", "bo_key": supplier, "file_name": name, "mime": "application/pdf",
                "document_type": "Purchase Order"}
        else:
            url, params = f"{self.erp_admin}/attachments/{version_of}/versions", {
                "file_name": name, "mime": "application/pdf"}
        async with self.http.post(url, params=params, data=body, timeout=NO_TIMEOUT) as resp:
            resp.raise_for_status()
            return dict(await resp.json())

    async def download_url(self, row: Mapping[str, Any]) -> str:
        """The SAP ``$value`` URL of an attachment's latest version (from ``GetAllOriginals``)."""
        service = f"http://127.0.0.1:{self.erp_port}/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
        params = {"BusinessObjectTypeName": f"'{row['bo_type']}'", "LinkedSAPObjectKey": f"'{row['bo_key']}'",
                  "$format": "json"}
        async with self.http.get(f"{service}/GetAllOriginals", params=params) as resp:
            resp.raise_for_status()
            found = (await resp.json())["d"]["results"]
        entity = next(e for e in found if e["DocumentInfoRecordDocNumber"] == row["doc_number"])
        return str(entity["__metadata"]["media_src"])


def stored_log(worker: WorkerProcess) -> dict[int, dict[str, Any]]:
    """The worker's ``document stored`` log lines, by node id."""
    found: dict[int, dict[str, Any]] = {}
    for line in worker.log_path.read_text(errors="replace").splitlines():
        if "document stored" in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            found[int(entry.get("node_id", 0))] = entry
    return found


async def bare_copy(http: aiohttp.ClientSession, client: OpenTextClient, url: str, folder: int,
                    name: str) -> tuple[float, bool]:
    """The same two hops without xstream: the ERP download streamed into an OpenText upload."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[Body]:
        async with http.get(url, timeout=NO_TIMEOUT) as resp:
            resp.raise_for_status()
            yield ResponseBody("erp", "bare.download", resp, ContentInfo(
                name=name, media_type=resp.content_type, size=resp.content_length))

    started = time.perf_counter()
    uploaded = await client.upload_document(folder, name, opened)
    return time.perf_counter() - started, uploaded.large_file


async def bench_big(stack: Stack, client: OpenTextClient, worker: WorkerProcess, supplier: str,
                    workspace: int, size: int, rounds: int) -> list[dict[str, Any]]:
    bare_folder = await client.ensure_folder_path(workspace, ["Bare copies"])
    results = []
    for n in range(rounds):
        count, before = len(stack.stores()), await stack.calls()
        row = await stack.attach(supplier, f"Big-{n}.pdf", big_body(size))
        posted = time.time()
        status, ts = (await stack.wait_stores(count + 1, max(600.0, size / MIB)))[count]
        x_s = ts / 1000 - posted
        used = delta(before, await stack.calls())
        node = (status.get("document") or {}).get("node_id")
        logged = stored_log(worker).get(int(node or 0), {})
        url = await stack.download_url(row)
        b_s, b_large = await bare_copy(stack.http, client, url, bare_folder, f"Bare-{n}.pdf")
        mb = size / 1e6
        results.append({"outcome": status["outcome"], "x_s": x_s, "x_mb_s": mb / x_s, "b_s": b_s,
                        "b_mb_s": mb / b_s, "ratio": b_s / x_s, "large_log": logged.get("large_file"),
                        "parts": used.get("multipart.part", 0), "b_large": b_large, "calls": used})
        print(f"  round {n + 1}: xstream {x_s:.1f} s ({mb / x_s:.0f} MB/s, {status['outcome']}), "
              f"bare {b_s:.1f} s ({mb / b_s:.0f} MB/s), ratio {b_s / x_s:.2f}", flush=True)
    return results


async def phase(stack: Stack, name: str, posts: Sequence[tuple[str, str, bytes, str | None]],
                timeout_s: float = 600.0) -> tuple[Phase, list[dict[str, Any]]]:
    """Post attachments (or versions), 8 at a time; wait for their status events; the calls meanwhile."""
    await stack.quiet(1.0)
    count, before = len(stack.stores()), await stack.calls()
    started = time.time()
    gate = asyncio.Semaphore(8)

    async def post(supplier: str, file_name: str, body: bytes, version_of: str | None) -> dict[str, Any]:
        async with gate:
            return await stack.attach(supplier, file_name, body, version_of=version_of)

    rows = await asyncio.gather(*(post(*p) for p in posts))
    new = (await stack.wait_stores(count + len(posts), timeout_s))[count:]
    await stack.quiet(2.0)
    seconds = max(ts for _, ts in new) / 1000 - started
    outcomes = Counter(str(s["outcome"]) for s, _ in stack.stores()[count:])
    return Phase(name, len(posts), seconds, delta(before, await stack.calls()), outcomes), rows


def small(n: int) -> bytes:
    return b"%PDF-1.7 purchase order " + os.urandom(SMALL_BYTES - 24 + n % 7)


async def bench_small(stack: Stack, suppliers: list[str], count: int) -> list[Phase]:
    warm, _ = await phase(stack, "first document per supplier (creates the folder)",
                          [(s, f"Warm-{s}.pdf", small(i), None) for i, s in enumerate(suppliers)])
    posts = [(suppliers[i % len(suppliers)], f"PO-{i:05d}.pdf", small(i), None) for i in range(count)]
    steady, rows = await phase(stack, "new document, existing folder", posts)
    picked = list(zip(rows, posts, strict=True))[: max(1, count // 10)]
    amended = [(s, f, b + b" amended", row["attachment_id"]) for row, (s, f, b, _) in picked]
    versions, _ = await phase(stack, "new version, other bytes", amended)
    same, _ = await phase(stack, "new version, same bytes", amended)
    return [warm, steady, versions, same]


async def bench_replay(stack: Stack, first: WorkerProcess) -> Phase:
    """A second deployment (another app id) reads every topic from offset 0."""
    first.stop()
    await stack.quiet(1.0)
    count, before = len(stack.stores()), await stack.calls()
    started = time.time()
    replay = stack.start_worker(f"xstream-replay-{os.getpid()}")
    if not await wait_ready(replay, 120):
        raise RuntimeError(replay.log_tail())
    new = (await stack.wait_stores(2 * count, 900.0))[count:]
    await stack.quiet(5.0)
    outcomes = Counter(str(s["outcome"]) for s, _ in stack.stores()[count:])
    seconds = max(ts for _, ts in new) / 1000 - started
    return Phase("replay by a second worker (all)", len(stack.stores()) - count, seconds,
                 delta(before, await stack.calls()), outcomes)


async def run(args: argparse.Namespace, work: Path, erp_port: int, ot_port: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with EmbeddedBroker() as broker:
        catalog = load_catalog(targets=HARNESS_TARGETS)
        kafka = KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour.TANSU)
        await apply_topics(kafka, catalog.specs)
        ot_url, erp_url = f"http://127.0.0.1:{ot_port}/otcs/cs", f"http://127.0.0.1:{erp_port}/api"
        async with await start_notify_emulator(NotifyEmulatorConfig()) as chat, \
                aiohttp.ClientSession() as http, \
                OpenTextClient(OpenTextSettings(base_url=HttpUrl(ot_url), request_timeout_s=300)) as client:
            env = worker_env(bootstrap=broker.bootstrap, flavour="tansu", opentext_url=ot_url,
                             targets=dict.fromkeys(("erp", "crm", "project_tool"), erp_url),
                             chat={c: chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS})
            status_topic = catalog.one(Role.STATUS).name
            collector = await Collector(broker.bootstrap, status_topic).start()
            stack = Stack(erp_port, ot_port, collector, status_topic, http, work, env)
            forwarder = await CdcForwarder(  # plays Debezium for the ERP's attachment table
                stack.erp_admin, broker.bootstrap,
                lambda e: "erp.cdc.attachments" if e == "attachments" else None).start()
            try:
                suppliers = [supplier_id(n) for n in range(SUPPLIERS)]
                workspaces = []
                for s in suppliers:  # the suppliers exist in the ERP and have their workspaces in OpenText
                    async with http.post(f"{stack.erp_admin}/records/suppliers", json={
                            "id": s, "supplier_id": s, "name": f"Supplier {s}", "purchaser": "k.tanaka",
                            "country": "DE", "posting_block": False}) as resp:
                        resp.raise_for_status()
                    workspaces.append(await workspace_for(client, "Supplier", BusinessObjectRef(
                        ext_system_id="SAP_PRD", bo_type="LFA1", bo_id=s), f"Supplier {s} ({s})"))
                worker = stack.start_worker(f"xstream-bench-{os.getpid()}")
                if not await wait_ready(worker, 120):
                    raise RuntimeError(worker.log_tail())
                assert worker.pid is not None
                figures["rss_ready"] = peak_rss_mib(worker.pid)
                print(f"big document: {args.big_mib} MiB x {args.rounds} rounds", flush=True)
                figures["big"] = await bench_big(stack, client, worker, suppliers[0], workspaces[0],
                                                 args.big_mib * MIB, args.rounds)
                figures["rss_big"] = peak_rss_mib(worker.pid)
                print(f"small documents: {args.small}", flush=True)
                figures["small"] = await bench_small(stack, suppliers, args.small)
                figures["rss_end"] = peak_rss_mib(worker.pid)
                figures["small"].append(await bench_replay(stack, worker))
            finally:
                for w in stack.workers:
                    w.stop()
                await forwarder.stop()
                await collector.stop()
    return figures


def report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    big: list[dict[str, Any]] = figures["big"]
    med = {k: statistics.median(r[k] for r in big) for k in ("x_s", "x_mb_s", "b_s", "b_mb_s", "ratio")}
    print(f"\n== 1. one {args.big_mib} MiB document ERP -> OpenText ({len(big)} rounds, medians) ==")
    print(f"xstream (worker, Kafka, sink):  {med['x_s']:7.1f} s  {med['x_mb_s']:7.1f} MB/s")
    print(f"bare stream copy (same hops):   {med['b_s']:7.1f} s  {med['b_mb_s']:7.1f} MB/s")
    print(f"ratio xstream / bare MB/s:      {med['ratio']:7.2f}    (target >= 0.8; per round: "
          f"{', '.join(format(r['ratio'], '.2f') for r in big)})")
    print(f"large file upload (xstream):    log large_file={[r['large_log'] for r in big]}, "
          f"multipart parts {[r['parts'] for r in big]}; bare: {[r['b_large'] for r in big]}")
    print(f"xstream outcomes:               {[r['outcome'] for r in big]}")
    print(f"OpenText calls (round 1):       {big[0]['calls']}")
    print(f"worker peak RSS (VmHWM):        {figures['rss_big']:7.1f} MiB after the big documents "
          f"(ready: {figures['rss_ready']:.1f} MiB; target < 150 MiB); "
          f"{figures['rss_end']:.1f} MiB at the end")
    print(f"\n== 2. {args.small} small documents ({SMALL_BYTES // 1024} KiB), "
          f"{SUPPLIERS} supplier workspaces ==")
    print(f"{'phase':50} {'docs':>5} {'s':>6} {'docs/s':>7} {'calls':>6} {'/doc':>5} {'writes':>6} "
          f"{'w/doc':>5}  outcomes")
    for p in figures["small"]:
        print(f"{p.name:50} {p.docs:5d} {p.seconds:6.1f} {p.docs / p.seconds:7.1f} {p.total:6d} "
              f"{p.total / p.docs:5.2f} {p.writes:6d} {p.writes / p.docs:5.2f}  {dict(p.outcomes)}")
    print("per operation:")
    for p in figures["small"]:
        print(f"  {p.name}: {p.calls or '-'}")
    print("targets: <= 2 calls per new document into an existing folder; 0 writes for the same bytes; "
          "0 calls for a replay")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=500, help="big document size, MiB (default 500)")
    parser.add_argument("--small", type=int, default=1000, help="number of small documents (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the big document pair (default 3)")
    args = parser.parse_args(argv)

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # through the finally blocks below

    signal.signal(signal.SIGTERM, terminate)
    with tempfile.TemporaryDirectory(prefix="xstream-documents-bench-") as tmp:
        work = Path(tmp)
        started: list[subprocess.Popen[bytes]] = []
        try:
            erp, erp_port = emulator("erp", work)
            started.append(erp)
            ot, ot_port = emulator("opentext", work)
            started.append(ot)
            wait_for_port(erp_port, erp)
            wait_for_port(ot_port, ot)
            figures = asyncio.run(run(args, work, erp_port, ot_port))
        except BaseException:
            for kind in ("erp", "opentext"):
                tail = (work / f"{kind}.log").read_text(errors="replace")[-2000:]
                if tail:
                    print(f"--- {kind} emulator log (tail) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            for proc in started:
                stop_emulator(proc)
    report(args, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
