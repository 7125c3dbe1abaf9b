"""``xstream demo``: flows F1, F4, F3, F6 and F2 on one machine, checked, in one command.

Embedded broker, the OpenText emulator, three source-system emulators (ERP, CRM, project tool), a
chat emulator and a real worker process. First act (F1, F4): ERP customers arrive as about 100
Debezium records (creates, snapshot reads, updates, replays, a delete and its tombstone, two
malformed records); ERP suppliers, CRM accounts and projects arrive through the emulators' change
feeds, as Debezium would deliver them. Every workspace link is written back to its source record,
the CDC echo of that write is dropped, and a supplier blocked in the ERP gets its workspace status
updated. Second act (F3, F6, :mod:`.status_phase`): contracts change status in OpenText; the signed
webhook and the poller both report it; approvals start in the ERP, supplier records are updated,
teams are told, once each; the ERP's approval decision becomes the contract's Status. Third act
(F2, :mod:`.documents_phase`): ERP attachments become governed documents and versions in the
supplier's workspace; the contract is a link on the ERP supplier, its signed version locked. Exit 0
only when every check holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from xstream_emulators.embedded import EmbeddedBroker, free_port
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream_emulators.notify import (
    DEFAULT_CHANNELS,
    NotifyEmulatorConfig,
    RunningNotifyEmulator,
    start_notify_emulator,
)
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from xstream.demo import scenario as sc
from xstream.demo.documents_phase import DocumentStage, run_document_stage
from xstream.demo.harness import (
    HARNESS_TARGETS,
    CdcForwarder,
    Collector,
    WorkerProcess,
    fetch_metrics,
    metric,
    produce,
    wait_ready,
    worker_env,
)
from xstream.demo.status_phase import StatusStage, run_status_stage
from xstream.kafka import apply_topics
from xstream.settings import BrokerFlavour, KafkaSettings
from xstream.topics import Role, load_catalog

SUPPLIERS = [{"id": f"00003000{i:02d}", "supplier_id": f"00003000{i:02d}", "name": name, "purchaser": "k.tanaka",
              "country": country, "posting_block": False}
             for i, (name, country) in enumerate([("Initech Components", "DE"), ("Globex Metals", "US"),
                                                   ("Tyrell Optics", "JP")])]
ACCOUNTS = [{"id": "001A0000001", "account_id": "001A0000001", "account_number": "CRM-1", "name": "Hooli Europe",
             "type": "Customer", "owner_email": "a.schmidt@example.com", "billing_region": "EMEA", "stage": "Active"},
            {"id": "001A0000002", "account_id": "001A0000002", "account_number": "CRM-2", "name": "Pied Piper",
             "type": "Prospect", "owner_email": "j.doe@example.com", "billing_region": "AMER", "stage": "Lead"}]
PROJECTS = [{"id": "PRJ-2025-017", "project_key": "PRJ-2025-017", "title": "Warehouse Automation",
             "programme": "Logistics 2025", "manager": "m.rossi", "region": "Europe", "state": "open"}]
FEED_OBJECTS = {"SAP_PRD/LFA1": len(SUPPLIERS), "SFDC/Account": 1, "PROJ/Project": len(PROJECTS)}  # prospect: none
BLOCKED = SUPPLIERS[1]["id"]


WEBHOOK_SECRET = "demo-webhook-secret-0123456789"


@dataclass
class Stack:
    bootstrap: str
    opentext: RunningEmulator
    targets: dict[str, RunningErpEmulator]
    chat: RunningNotifyEmulator
    worker: WorkerProcess
    collector: Collector
    status_topic: str
    dlq_topic: str
    events_topic: str
    webhook_url: str

    async def admin(self, path: str, method: str = "GET", json: Any = None, target: str | None = None) -> Any:
        base = self.targets[target].admin_url if target else self.opentext.admin_url
        async with aiohttp.ClientSession() as http, http.request(method, f"{base}/{path}", json=json) as resp:
            return await resp.json()

    def statuses(self, target: str | None = None) -> list[dict[str, Any]]:
        found = [orjson.loads(r.value) for r in self.collector.records[self.status_topic]]
        return [s for s in found if target is None or s["target"] == target]

    def link_backs(self) -> list[dict[str, Any]]:
        """Outcomes of the link writes into the source records (F4), not of status rules (F3, F6)."""
        return [s for s in self.statuses() if s["command_kind"] == "update_record" and s.get("rule") is None]


async def run_demo(*, keep_running: bool = False, timeout_s: float = 180.0, console: Console | None = None) -> int:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="xstream-demo-"))
    started = time.monotonic()
    with EmbeddedBroker() as broker:
        console.print(f"[bold]broker[/]    embedded Tansu on {broker.bootstrap}")
        async with _emulators(console) as (opentext, targets, chat):
            catalog = load_catalog(targets=HARNESS_TARGETS)
            await apply_topics(KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour.TANSU), catalog.specs)
            webhook_port = free_port()
            ingress = {"XSTREAM_WEBHOOK__ENABLED": "true", "XSTREAM_WEBHOOK__HOST": "127.0.0.1",
                       "XSTREAM_WEBHOOK__PORT": str(webhook_port), "XSTREAM_WEBHOOK__SECRET": WEBHOOK_SECRET,
                       "XSTREAM_POLLER__ENABLED": "true", "XSTREAM_POLLER__INTERVAL_S": "1"}
            env = worker_env(bootstrap=broker.bootstrap, flavour="tansu", opentext_url=opentext.url,
                             app_id="xstream-demo", targets={name: t.url for name, t in targets.items()},
                             chat={c: chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS}, extra=ingress)
            worker = WorkerProcess(env, workdir / "worker.log").start()
            names = {role: catalog.one(role).name for role in (Role.STATUS, Role.DEAD_LETTER, Role.OPENTEXT_EVENTS)}
            collector = await Collector(broker.bootstrap, *names.values()).start()
            stack = Stack(broker.bootstrap, opentext, targets, chat, worker, collector, names[Role.STATUS],
                          names[Role.DEAD_LETTER], names[Role.OPENTEXT_EVENTS],
                          f"http://127.0.0.1:{webhook_port}/hooks/opentext")
            try:
                return await _drive(console, stack, keep_running=keep_running, timeout_s=timeout_s, started=started)
            finally:
                await collector.stop()
                code = worker.stop()
                console.print(f"[dim]worker stopped (exit {code}); log: {worker.log_path}[/]")


@contextlib.asynccontextmanager
async def _emulators(console: Console) -> AsyncIterator[
        tuple[RunningEmulator, dict[str, RunningErpEmulator], RunningNotifyEmulator]]:
    opentext = await start_opentext_emulator(OpenTextEmulatorConfig())
    targets: dict[str, RunningErpEmulator] = {}
    chat: RunningNotifyEmulator | None = None
    try:
        for name in ("erp", "crm", "project_tool"):
            targets[name] = await start_erp_emulator(ErpEmulatorConfig())
        chat = await start_notify_emulator(NotifyEmulatorConfig())
        console.print(f"[bold]opentext[/]  emulator on {opentext.url} (admin {opentext.admin_url})")
        for name, target in targets.items():
            console.print(f"[bold]{name:9}[/] emulator on {target.url} (admin {target.admin_url})")
        console.print(f"[bold]chat[/]      emulator on {chat.origin} (messages {chat.admin_url}/messages)")
        yield opentext, targets, chat
    finally:
        if chat is not None:
            await chat.stop()
        for target in targets.values():
            await target.stop()
        await opentext.stop()


async def _drive(console: Console, stack: Stack, *, keep_running: bool, timeout_s: float, started: float) -> int:
    with console.status("starting worker (waiting for /readyz)..."):
        if not await wait_ready(stack.worker, 60):
            console.print("[red]worker did not become ready[/]\n" + stack.worker.log_tail())
            return 1
    console.print(f"[bold]worker[/]    ready at {stack.worker.base_url} ({time.monotonic() - started:.1f}s since start)")
    scenario = sc.build()
    forwarders = await _seed_sources(stack, scenario)
    try:
        await produce(stack.bootstrap, sc.TOPIC, scenario.records)
        kinds = Counter(r.label for r in scenario.records)
        console.print(f"[bold]produced[/]  {len(scenario.records)} CDC records to {sc.TOPIC}: "
                      + ", ".join(f"{n} {k}" for k, n in kinds.items()))
        console.print(f"[bold]sources[/]   {len(SUPPLIERS)} ERP suppliers, {len(ACCOUNTS)} CRM accounts, "
                      f"{len(PROJECTS)} project: forwarded from their change feeds")
        done = await _wait_processed(console, stack, scenario, timeout_s)
        blocked = done and await _block_supplier(console, stack, timeout_s)
        if done:
            await _settle(console, stack, scenario, blocked, timeout_s)
        first_act = await _report(console, stack, scenario, done, blocked)
        await stack.admin("hooks", "POST", {"url": stack.webhook_url, "secret": WEBHOOK_SECRET})
        console.print(f"[bold]opentext[/]  server-side hook registered: signed POSTs to {stack.webhook_url}")
        second_act = await run_status_stage(StatusStage(
            console, stack.opentext.url, stack.targets["erp"], stack.chat, stack.collector, stack.events_topic,
            stack.status_topic, stack.webhook_url, stack.worker.base_url, timeout_s),
            stack.opentext.admin_url) if done else {}
        third_act = await run_document_stage(DocumentStage(
            console, stack.opentext.url, stack.opentext.admin_url, stack.targets["erp"], stack.collector,
            stack.status_topic, timeout_s)) if done else {}
        checks = first_act | second_act | third_act | {"worker still running": stack.worker.running}
        for name, ok in checks.items():
            console.print(f"  {'[green]ok  [/]' if ok else '[red]FAIL[/]'} {name}")
        if keep_running:
            await _keep_running(console, stack)
        return 0 if checks and all(checks.values()) else 1
    finally:
        for forwarder in forwarders:
            await forwarder.stop()


async def _seed_sources(stack: Stack, scenario: sc.Scenario) -> list[CdcForwarder]:
    """Records exist in their systems; suppliers, accounts and projects reach Kafka through the feeds."""
    for bo_id, row in scenario.customers.items():  # customers arrive as the synthetic CDC records instead
        await stack.admin("records/customers", "POST", {**row, "id": bo_id}, target="erp")
    for entity, target, rows in (("suppliers", "erp", SUPPLIERS), ("accounts", "crm", ACCOUNTS),
                                 ("projects", "project_tool", PROJECTS)):
        for row in rows:
            await stack.admin(f"records/{entity}", "POST", row, target=target)
    feeds = {"erp": {"suppliers": "erp.cdc.suppliers", "attachments": "erp.cdc.attachments",
                     "approvals": "erp.cdc.approvals"}, "crm": {"accounts": "crm.cdc.accounts"},
             "project_tool": {"projects": "projects.cdc.projects"}}
    return [await CdcForwarder(stack.targets[name].admin_url, stack.bootstrap, topics.get).start()
            for name, topics in feeds.items()]


async def _wait_processed(console: Console, stack: Stack, scenario: sc.Scenario, timeout_s: float) -> bool:
    feed = sum(FEED_OBJECTS.values())
    goals = {"OpenText outcomes": scenario.expected_commands + feed,
             "links written back": scenario.expected_link_backs + feed,
             "dead letters": scenario.expected_dead_letters}

    def progress_of() -> dict[str, int]:
        statuses = stack.statuses()
        return {"OpenText outcomes": sum(s["target"] == "opentext" for s in statuses),
                "links written back": len(stack.link_backs()),
                "dead letters": len(stack.collector.records[stack.dlq_topic])}

    columns = (SpinnerColumn(), TextColumn("{task.description:20}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {name: progress.add_task(name, total=goal) for name, goal in goals.items()}

        def tick() -> None:
            for name, seen in progress_of().items():
                progress.update(tasks[name], completed=min(seen, goals[name]))

        ok = await stack.collector.wait_for(
            lambda: all(seen >= goals[n] for n, seen in progress_of().items()) or not stack.worker.running,
            timeout_s, on_tick=tick)
    return ok and stack.worker.running


async def _block_supplier(console: Console, stack: Stack, timeout_s: float) -> bool:
    console.print(f"[bold]ERP[/]       a purchaser blocks supplier {BLOCKED} (posting_block = true)")
    await stack.admin(f"records/suppliers/{BLOCKED}", "PATCH", {"posting_block": True}, target="erp")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "blocked" in _workspace(await stack.admin("state"), f"SAP_PRD/LFA1/{BLOCKED}").get("categories", {}).values():
            return True
        await asyncio.sleep(0.3)
    return False


async def _settle(console: Console, stack: Stack, scenario: sc.Scenario, blocked: bool, timeout_s: float) -> None:
    """Until the figures the first act's checks count are in (bounded by ``timeout_s``), instead of
    guessing how long they take: every OpenText outcome, the blocked supplier's update among them
    (published after OpenText already shows it), and the CDC echo of every link write into a source
    that has a change feed, dropped (it travels the source's change log, Kafka and the CDC flow)."""
    outcomes = scenario.expected_commands + sum(FEED_OBJECTS.values()) + blocked
    deadline = time.monotonic() + timeout_s
    with console.status("waiting: the last outcomes and the CDC echoes of the link writes..."):
        while time.monotonic() < deadline:
            echoes = metric(await fetch_metrics(stack.worker.base_url), "xstream_echoes_suppressed_total")
            if len(stack.statuses("opentext")) >= outcomes and echoes >= sum(FEED_OBJECTS.values()):
                return
            await asyncio.sleep(0.2)
    console.print("[red]not reached[/]: the last outcomes and the CDC echoes of the link writes")


def _workspaces_by_bo(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for ws in state.get("workspaces", []):
        for bo in ws.get("business_objects", []):
            found.setdefault(f"{bo['ext_system_id']}/{bo['bo_type']}/{bo['bo_id']}", []).append(ws)
    return found


def _workspace(state: dict[str, Any], bo_key: str) -> dict[str, Any]:
    return (_workspaces_by_bo(state).get(bo_key) or [{}])[0]


async def _report(console: Console, stack: Stack, scenario: sc.Scenario, done: bool,
                  blocked: bool) -> dict[str, bool]:
    """The first act's table, counts and checks (printed with the second act's)."""
    state = await stack.admin("state")
    by_bo = _workspaces_by_bo(state)
    sources = {"SAP_PRD/KNA1": ("erp", "customers", "workspace_url"), "SAP_PRD/LFA1": ("erp", "suppliers", "workspace_url"),
               "SFDC/Account": ("crm", "accounts", "opentext_workspace_url"),
               "PROJ/Project": ("project_tool", "projects", "workspace_url")}
    records = {prefix: {r["id"]: r for r in (await stack.admin("state", target=t))["records"].get(entity, [])}
               for prefix, (t, entity, _) in sources.items()}
    last = {s["business_object"]["ext_system_id"] + "/" + s["business_object"]["bo_type"] + "/"
            + s["business_object"]["bo_id"]: s for s in stack.statuses("opentext")}
    table = Table(title="Business objects -> OpenText business workspaces (and the link in the source record)")
    for column in ("business object", "workspace", "name", "last outcome", "link back", "copies"):
        table.add_column(column, no_wrap=True)
    linked_ok = True
    for bo_key in sorted(by_bo):
        (ws, *_), prefix = by_bo[bo_key], bo_key.rsplit("/", 1)[0]
        _, _, field = sources[prefix]
        record = records[prefix].get(bo_key.rsplit("/", 1)[1], {})
        linked = record.get(field, "").endswith(f"/app/nodes/{ws['id']}")
        deleted = "deleted" in ws.get("categories", {}).values()
        linked_ok &= linked or deleted
        copies = len(by_bo[bo_key])
        table.add_row(bo_key, str(ws["id"]), ws["name"], last.get(bo_key, {}).get("outcome", "-"),
                      "[green]yes[/]" if linked else ("-" if deleted else "[red]no[/]"),
                      f"[{'green' if copies == 1 else 'red'}]{copies}[/]")
    console.print(table)
    metrics = await fetch_metrics(stack.worker.base_url)
    outcomes = Counter(s["outcome"] for s in stack.statuses("opentext"))
    links = Counter(s["target"] for s in stack.link_backs())
    letters = [orjson.loads(r.value) for r in stack.collector.records[stack.dlq_topic]]
    echoes, tombstones = metric(metrics, "xstream_echoes_suppressed_total"), metric(metrics, "xstream_tombstones_total")
    feed = sum(FEED_OBJECTS.values())
    console.print(f"[bold]counts[/] OpenText: applied={outcomes['applied']} already_applied={outcomes['already_applied']} "
                  f"rejected={outcomes['rejected']}; links written back: "
                  + ", ".join(f"{t}={n}" for t, n in sorted(links.items()))
                  + f"; dead-lettered={len(letters)} tombstones={tombstones:.0f} echoes suppressed={echoes:.0f}")
    for letter in letters:
        source = letter["source"]
        console.print(f"  [yellow]dead letter[/] {letter['reason']}: {letter['detail'][:90]} "
                      f"({source['topic']}/{source['partition']}@{source['offset']})")
    calls = await stack.admin("calls")
    console.print("[bold]OpenText calls[/] " + ", ".join(f"{k}={v}" for k, v in sorted(calls.items())))
    expected_bos = {f"SAP_PRD/KNA1/{b}" for b in scenario.customers} | {
        f"SAP_PRD/LFA1/{s['id']}" for s in SUPPLIERS} | {"SFDC/Account/001A0000001", "PROJ/Project/PRJ-2025-017"}
    checks = {
        "every business object has exactly one workspace": set(by_bo) == expected_bos
        and all(len(v) == 1 for v in by_bo.values()),
        "no workspace for anything else (the CRM prospect gets none)": len(state.get("workspaces", [])) == len(expected_bos),
        f"customer CDC: applied == {scenario.expected_applied}, already_applied == {scenario.expected_already_applied}":
            outcomes["applied"] == scenario.expected_applied + feed + blocked
            and outcomes["already_applied"] == scenario.expected_already_applied,
        "every source record holds its workspace link": linked_ok,
        "each link write's CDC echo was dropped": echoes >= feed,
        f"dead-lettered == {scenario.expected_dead_letters}": len(letters) == scenario.expected_dead_letters,
        f"tombstones counted == {scenario.expected_tombstones}": tombstones == scenario.expected_tombstones,
        "the blocked supplier's workspace status is 'blocked'": blocked,
        "the first act finished in time": done,
    }
    return checks


async def _keep_running(console: Console, stack: Stack) -> None:
    targets = "\n".join(f"  {name:10} {t.url}  (state {t.admin_url}/state)" for name, t in stack.targets.items())
    targets += f"\n  chat       {stack.chat.origin}  (messages {stack.chat.admin_url}/messages)"
    targets += f"\n  webhook    {stack.webhook_url}  (signed with the demo's secret)"
    console.print(f"\n[bold]still running[/] (Ctrl-C to stop)\n  broker     {stack.bootstrap}\n"
                  f"  opentext   {stack.opentext.url}  (user Admin / livelink; state {stack.opentext.admin_url}/state)\n"
                  f"{targets}\n  metrics    {stack.worker.base_url}/metrics\n  readiness  {stack.worker.base_url}/readyz")
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
