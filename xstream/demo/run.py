"""``xstream demo``: the whole F1 path on one machine, checked, in one command.

Embedded broker + OpenText emulator + a real worker process; about 100 ERP customer CDC records
(creates, snapshot reads, updates, replays, a delete and its tombstone, two malformed records).
It exits 0 only when every customer has exactly one workspace in the emulator and the status and
dead-letter counts are what the scenario promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from xstream.demo import scenario as sc
from xstream.demo.harness import Collector, WorkerProcess, produce, worker_env
from xstream.embedded import EmbeddedBroker
from xstream.emulators.opentext import OpenTextEmulatorConfig, start_opentext_emulator
from xstream.kafka import apply_topics
from xstream.settings import BrokerFlavour, KafkaSettings
from xstream.topics import Role, load_catalog


async def _get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return await resp.json() if resp.status < 500 else {"status": resp.status}


async def _wait_ready(worker: WorkerProcess, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and worker.running:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with aiohttp.ClientSession() as http, http.get(f"{worker.base_url}/readyz") as resp:
                if resp.status == 200:
                    return True
        await asyncio.sleep(0.25)
    return False


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


async def run_demo(*, keep_running: bool = False, timeout_s: float = 180.0, console: Console | None = None) -> int:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="xstream-demo-"))
    started = time.monotonic()
    with EmbeddedBroker() as broker:
        console.print(f"[bold]broker[/] embedded Tansu on {broker.bootstrap}")
        emulator = await start_opentext_emulator(OpenTextEmulatorConfig())
        try:
            console.print(f"[bold]opentext[/] emulator on {emulator.url} (admin {emulator.admin_url})")
            catalog = load_catalog()
            await apply_topics(KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour.TANSU), catalog.specs)
            worker = WorkerProcess(
                worker_env(bootstrap=broker.bootstrap, flavour="tansu", opentext_url=emulator.url,
                           app_id="xstream-demo"),
                workdir / "worker.log",
            ).start()
            try:
                return await _drive(console, broker.bootstrap, emulator.admin_url, worker, catalog,
                                    keep_running=keep_running, timeout_s=timeout_s, started=started)
            finally:
                code = worker.stop()
                console.print(f"[dim]worker stopped (exit {code}); log: {worker.log_path}[/]")
        finally:
            await emulator.stop()


async def _drive(console: Console, bootstrap: str, admin_url: str, worker: WorkerProcess, catalog: Any, *,
                 keep_running: bool, timeout_s: float, started: float) -> int:
    status_topic, dlq_topic = catalog.one(Role.STATUS).name, catalog.one(Role.DEAD_LETTER).name
    scenario = sc.build()
    collector = await Collector(bootstrap, status_topic, dlq_topic).start()
    try:
        with console.status("starting worker (waiting for /readyz)..."):
            if not await _wait_ready(worker, 60):
                console.print("[red]worker did not become ready[/]\n" + worker.log_tail())
                return 1
        console.print(f"[bold]worker[/] ready at {worker.base_url} ({time.monotonic() - started:.1f}s since start)")
        await produce(bootstrap, sc.TOPIC, scenario.records)
        kinds = Counter(r.label for r in scenario.records)
        console.print(f"[bold]produced[/] {len(scenario.records)} CDC records to {sc.TOPIC}: "
                      + ", ".join(f"{n} {k}" for k, n in kinds.items()))
        done = await _wait_processed(console, collector, scenario, status_topic, dlq_topic, worker, timeout_s)
        return await _report(console, collector, scenario, status_topic, dlq_topic, admin_url, worker, done,
                             keep_running=keep_running, bootstrap=bootstrap)
    finally:
        await collector.stop()


async def _wait_processed(console: Console, collector: Collector, scenario: sc.Scenario, status_topic: str,
                          dlq_topic: str, worker: WorkerProcess, timeout_s: float) -> bool:
    total = scenario.expected_commands + scenario.expected_dead_letters
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("status events + dead letters", total=total)

        def seen() -> int:
            return len(collector.records[status_topic]) + len(collector.records[dlq_topic])

        return await collector.wait_for(
            lambda: seen() >= total or not worker.running, timeout_s,
            on_tick=lambda: progress.update(task, completed=min(seen(), total)),
        ) and worker.running


async def _report(console: Console, collector: Collector, scenario: sc.Scenario, status_topic: str, dlq_topic: str,
                  admin_url: str, worker: WorkerProcess, done: bool, *, keep_running: bool, bootstrap: str) -> int:
    statuses = [orjson.loads(r.value) for r in collector.records[status_topic]]
    letters = [orjson.loads(r.value) for r in collector.records[dlq_topic]]
    state = await _get_json(f"{admin_url}/state")
    metrics = await _fetch_metrics(worker)
    by_bo: dict[str, list[dict[str, Any]]] = {}
    for ws in state.get("workspaces", []):
        for bo in ws.get("business_objects", []):
            if bo["ext_system_id"] == sc.EXT_SYSTEM_ID and bo["bo_type"] == sc.BO_TYPE:
                by_bo.setdefault(bo["bo_id"], []).append(ws)
    last_status = {s["business_object"]["bo_id"]: s for s in statuses}
    table = Table(title=f"ERP customers ({sc.EXT_SYSTEM_ID}/{sc.BO_TYPE}) -> OpenText business workspaces")
    for column in ("bo_id", "workspace", "name", "last status", "copies"):
        table.add_column(column, no_wrap=True)
    for bo_id in sorted(scenario.customers):
        found = by_bo.get(bo_id, [])
        ws = found[0] if found else {}
        status = last_status.get(bo_id, {}).get("outcome", "-")
        count_style = "green" if len(found) == 1 else "red"
        table.add_row(bo_id, str(ws.get("id", "-")), ws.get("name", "-"), status, f"[{count_style}]{len(found)}[/]")
    console.print(table)
    outcomes = Counter(s["outcome"] for s in statuses)
    checks = {
        "every customer has exactly one workspace": all(len(by_bo.get(b, [])) == 1 for b in scenario.customers),
        "no workspace for anything else": len(state.get("workspaces", [])) == len(scenario.customers),
        f"applied == {scenario.expected_applied}": outcomes["applied"] == scenario.expected_applied,
        f"already_applied == {scenario.expected_already_applied}":
            outcomes["already_applied"] == scenario.expected_already_applied,
        f"dead-lettered == {scenario.expected_dead_letters}": len(letters) == scenario.expected_dead_letters,
        f"tombstones counted == {scenario.expected_tombstones}":
            _metric(metrics, "xstream_tombstones_total") == scenario.expected_tombstones,
        "worker still running": done,
    }
    console.print(f"[bold]counts[/] applied={outcomes['applied']} already_applied={outcomes['already_applied']} "
                  f"rejected={outcomes['rejected']} dead-lettered={len(letters)} "
                  f"tombstones={_metric(metrics, 'xstream_tombstones_total'):.0f}")
    for letter in letters:
        console.print(f"  [yellow]dead letter[/] {letter['reason']}: {letter['detail']} "
                      f"({letter['source']['topic']}/{letter['source']['partition']}@{letter['source']['offset']})")
    calls = await _get_json(f"{admin_url}/calls")
    console.print("[bold]OpenText calls[/] " + ", ".join(f"{k}={v}" for k, v in sorted(calls.items())))
    for name, ok in checks.items():
        console.print(f"  {'[green]ok  [/]' if ok else '[red]FAIL[/]'} {name}")
    if keep_running:
        console.print(f"\n[bold]still running[/] (Ctrl-C to stop)\n  broker     {bootstrap}\n"
                      f"  opentext   {admin_url.removesuffix('/admin')}/otcs/cs  (user Admin / livelink)\n"
                      f"  state      {admin_url}/state\n  metrics    {worker.base_url}/metrics\n"
                      f"  readiness  {worker.base_url}/readyz")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0 if all(checks.values()) else 1


async def _fetch_metrics(worker: WorkerProcess) -> str:
    with contextlib.suppress(aiohttp.ClientError, OSError):
        async with aiohttp.ClientSession() as http, http.get(f"{worker.base_url}/metrics") as resp:
            return await resp.text()
    return ""
