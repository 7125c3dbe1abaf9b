"""The demo's second act: flows F3 and F6, a contract's life in OpenText driving the ERP and the teams.

A buyer files a supply agreement in a supplier's workspace (made by F1); legal finishes its review
in OpenText -> the commercial approval starts in the ERP and the commercial team is told (F3); the
contract is signed -> the supplier record gets the contract status and link, procurement is told
(F6); another supplier's framework agreement goes through the Contract Approval workflow ->
approved in the ERP (F6). Every change reaches xstream twice, through the signed webhook and the
poller; each acts once. An unsigned webhook request is refused.

Nothing here depends on timing. The webhook is told at once, the poller only at its next cycle, so a
state that lasted less than a poll interval would reach the webhook alone (the old demo failed so
under load): before making the next change, the demo waits, on the OpenText events topic, until the
poller and the webhook both reported the document in its present state. Before counting, it waits
until the worker has put every OpenText event it published through the status rules and every
command they made has its outcome (the worker's metrics and the status topic) and no hook is still
being delivered. Each wait is bounded by the demo's timeout; what it waited for is then checked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from pydantic import HttpUrl
from rich.console import Console
from rich.table import Table
from xstream_emulators.erp import RunningErpEmulator
from xstream_emulators.notify import RunningNotifyEmulator

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import Collector, fetch_metrics, metric
from xstream.demo.opentext_user import file_document, set_status, status_of
from xstream.settings import OpenTextSettings

SIGNED_SUPPLIER, WORKFLOW_SUPPLIER = "0000300001", "0000300000"
APPROVED_STATUS = "Commercially Approved"
"""What the shipped document rules make of an approval decided in the ERP (rule erp-commercial-approvals)."""
"""Globex Metals and Initech Components, two of the demo's ERP suppliers."""


@dataclass
class StatusStage:
    console: Console
    opentext_url: str
    erp: RunningErpEmulator
    chat: RunningNotifyEmulator
    collector: Collector
    events_topic: str
    status_topic: str
    webhook_url: str
    worker_url: str
    timeout_s: float

    async def erp_state(self) -> dict[str, Any]:
        state: dict[str, Any] = await _get(f"{self.erp.admin_url}/state")
        return state

    async def messages(self) -> list[dict[str, Any]]:
        return list((await _get(f"{self.chat.admin_url}/messages"))["messages"])

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.collector.records[self.events_topic]]

    def statuses(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.collector.records[self.status_topic]]

    async def both_saw(self, what: str, doc: int, *, status: str | None = None,
                       process: int | None = None) -> bool:
        """Until the poller and the webhook both reported one observation of ``doc`` in its present state:
        its Status attribute ``status``, or its workflow ``process`` finished."""
        return bool(await self.until(f"the webhook and the poller both see {what}",
                                     lambda: _seen_by_both(self, doc, status=status, process=process)))

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        return await until(self.console, what, check, self.timeout_s)


async def until(console: Console, what: str, check: Callable[[], Awaitable[Any]], timeout_s: float) -> Any:
    """The check's first truthy answer (polled while a spinner says what is awaited), or None after
    ``timeout_s``, said in red: the acts wait on state, never for a fixed time."""
    deadline = time.monotonic() + timeout_s
    with console.status(f"waiting: {what}..."):
        while time.monotonic() < deadline:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.3)
    console.print(f"[red]not reached[/]: {what}")
    return None


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return await resp.json()


async def _post(url: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        return await resp.json()


def _supplier(state: dict[str, Any], supplier_id: str) -> dict[str, Any]:
    return next((r for r in state["records"]["suppliers"] if r["id"] == supplier_id), {})


async def run_status_stage(stage: StatusStage, admin_url: str) -> dict[str, bool]:
    """Act the contract's life; returns the checks that must hold."""
    c = stage.console
    c.rule("[bold]F3 + F6: OpenText changes drive the ERP and the teams")
    async with OpenTextClient(OpenTextSettings(base_url=HttpUrl(stage.opentext_url))) as opentext:
        globex = await opentext.find_workspace(BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                 bo_id=SIGNED_SUPPLIER))
        initech = await opentext.find_workspace(BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                  bo_id=WORKFLOW_SUPPLIER))
        if globex is None or initech is None:
            c.print("[red]the suppliers' workspaces are missing[/]")
            return {"the suppliers have workspaces (F1)": False}
        c.print(f"[bold]OpenText[/]  a buyer files 'Supply Agreement 2027.pdf' in {globex.name!r} (In Legal Review)")
        contract = await file_document(opentext, globex.node_id, "Supply Agreement 2027.pdf", document_type="Contract",
                                       status="In Legal Review")
        await stage.both_saw("the new contract", contract, status="In Legal Review")
        c.print("[bold]OpenText[/]  legal finishes its review: Status -> 'Legal Review Done'")
        await set_status(opentext, contract, "Legal Review Done")
        approval = await stage.until("the commercial approval in the ERP", lambda: _approval(stage))
        await stage.until("the commercial team's message", lambda: _channel(stage, "commercial"))
        await stage.both_saw("'Legal Review Done'", contract, status="Legal Review Done")
        decided_status = None
        if approval:
            c.print(f"[bold]ERP[/]       approval {approval['id']} ({approval['process']}) for "
                    f"{approval['record']['entity']}/{approval['record']['id']}: {approval['status']}; "
                    f"{stage.erp.url}/approvals/{approval['id']}")
            decided = await _post(f"{stage.erp.admin_url}/approvals/{approval['id']}/decide",
                                  {"decision": "approved", "by": "m.weber", "comment": "terms accepted"})
            c.print(f"[bold]ERP[/]       purchasing approves {decided.get('id')}: {decided.get('status')}")
            # F2 closes the loop: the decision (the ERP's change log) becomes the contract's Status
            decided_status = await stage.until("the ERP's decision as the contract's Status in OpenText",
                                               lambda: _document_status(opentext, contract, APPROVED_STATUS))
            if decided_status:
                c.print(f"[bold]OpenText[/]  the contract's Status is now {decided_status!r} (set from the ERP)")
                await stage.both_saw(f"'{APPROVED_STATUS}'", contract, status=APPROVED_STATUS)
        c.print("[bold]OpenText[/]  the contract is signed: Status -> 'Signed'")
        await set_status(opentext, contract, "Signed")
        signed = await stage.until("the supplier record's contract status",
                                   lambda: _contract_status(stage, SIGNED_SUPPLIER, "signed"))
        await stage.until("procurement's message", lambda: _channel(stage, "procurement"))
        await stage.both_saw("'Signed'", contract, status="Signed")

        c.print(f"[bold]OpenText[/]  'Framework Agreement.pdf' in {initech.name!r} goes through the "
                f"Contract Approval workflow")
        framework = await file_document(opentext, initech.node_id, "Framework Agreement.pdf", document_type="Contract",
                                        status="In Legal Review")
        await stage.both_saw("the framework agreement", framework, status="In Legal Review")
        maps = {m.name: m.id for m in await opentext.find_workflows(framework, initech.node_id)}
        process = await opentext.start_workflow(maps["Contract Approval"], [framework])
        await _post(f"{admin_url}/workflows/{process}/complete")
        c.print(f"[bold]OpenText[/]  workflow {process} completed")
        approved = await stage.until("the workflow's outcome in the ERP",
                                     lambda: _contract_status(stage, WORKFLOW_SUPPLIER, "approved"))
        await stage.both_saw(f"workflow {process} finished", framework, process=process)
        both = await stage.until("every change seen by both the webhook and the poller",
                                 lambda: _seen_twice(stage, {contract, framework}))
    async with aiohttp.ClientSession() as http, http.post(stage.webhook_url, json={"event": "document.added",
                                                                                  "node_id": contract}) as resp:
        unsigned = resp.status
    c.print(f"[bold]webhook[/]   an unsigned request is refused: HTTP {unsigned}")
    handled = await stage.until("every OpenText event through the status rules, every command they made done",
                                lambda: _all_handled(stage, admin_url))
    return await _report(stage, contract, framework, signed=signed, approved=approved, seen_twice=both,
                         unsigned=unsigned) | {
        "the worker had handled every OpenText event before the counting": bool(handled),
        "the ERP's approval decision showed as the contract's Status in OpenText (F2)": bool(decided_status)}


async def _document_status(opentext: OpenTextClient, doc: int, wanted: str) -> str | None:
    status = await status_of(opentext, doc)
    return status if status == wanted else None


def _status_of(event: dict[str, Any]) -> str | None:
    status = (event["document"]["attributes"].get("Document") or {}).get("Status")
    return status if isinstance(status, str) else None


async def _seen_by_both(stage: StatusStage, doc: int, *, status: str | None, process: int | None) -> bool:
    """One observation (event id) of ``doc`` reported by both ingress paths: a document state with that
    Status, or the finished workflow ``process``."""
    paths: dict[str, set[str]] = {}
    for event in stage.events():
        if event["document"]["node_id"] != doc or event["snapshot"]:
            continue
        if process is not None:
            match = event["kind"] == "workflow.finished" and (event.get("workflow") or {}).get("process_id") == process
        else:
            match = event["kind"] != "workflow.finished" and _status_of(event) == status
        if match:
            paths.setdefault(event["event_id"], set()).add(event["ingress"])
    return any(found == {"poller", "webhook"} for found in paths.values())


async def _all_handled(stage: StatusStage, admin_url: str) -> bool:
    """Nothing is left to count: no hook is being delivered (the webhook answers once its events are
    published and counted), the status flow has stepped every OpenText event the worker published
    (one worker runs both ingress paths), and every command the status rules made has its outcome on
    the status topic. The hooks are read first, so the metrics read after include their events."""
    hooks = await _get(f"{admin_url}/hooks")
    if any(d["pending"] for d in hooks["deliveries"]):
        return False
    metrics = await fetch_metrics(stage.worker_url)
    published = metric(metrics, "xstream_ingress_events_total")
    stepped = metric(metrics, "xstream_events_total", flow="opentext_status")
    commands = metric(metrics, "xstream_status_rule_commands_total")
    outcomes = sum(1 for s in stage.statuses() if s.get("rule") is not None)
    return published > 0 and stepped >= published and outcomes >= commands


async def _approval(stage: StatusStage) -> dict[str, Any] | None:
    found = (await stage.erp_state())["records"].get("approvals", [])
    return found[0] if found else None


async def _channel(stage: StatusStage, channel: str) -> list[dict[str, Any]]:
    return [m for m in await stage.messages() if m["channel"] == channel]


async def _contract_status(stage: StatusStage, supplier_id: str, status: str) -> dict[str, Any] | None:
    record = _supplier(await stage.erp_state(), supplier_id)
    return record if record.get("contract_status") == status else None


async def _seen_twice(stage: StatusStage, docs: set[int]) -> bool:
    changes = _changes_by_ingress(stage, docs)
    return bool(changes) and all(ingress == {"poller", "webhook"} for ingress in changes.values())


def _changes_by_ingress(stage: StatusStage, docs: set[int]) -> dict[tuple[int, str], set[str]]:
    """Per document and observation (event id) after the start: which ingress paths reported it.
    (Observations of passing states, e.g. right after an upload, may reach only one of them.)"""
    found: dict[tuple[int, str], set[str]] = {}
    for event in stage.events():
        doc = event["document"]["node_id"]
        if doc in docs and not event["snapshot"]:
            found.setdefault((doc, event["event_id"]), set()).add(event["ingress"])
    return {key: ingress for key, ingress in found.items() if _is_milestone(stage, key[1])}


def _is_milestone(stage: StatusStage, event_id: str) -> bool:
    event = next(e for e in stage.events() if e["event_id"] == event_id)
    return event["kind"] == "workflow.finished" or _status_of(event) in ("Legal Review Done", "Signed")


async def _report(stage: StatusStage, contract: int, framework: int, *, signed: Any, approved: Any,
                  seen_twice: Any, unsigned: int) -> dict[str, bool]:
    c = stage.console
    state, messages = await stage.erp_state(), await stage.messages()
    approvals = state["records"].get("approvals", [])
    events = [e for e in stage.events() if e["document"]["node_id"] in (contract, framework)]
    table = Table(title="OpenText changes -> what happened downstream")
    for column in ("document", "change", "seen by", "ERP", "chat"):
        table.add_column(column)
    first = approvals[0]["id"] if approvals else "-"
    rows = [("Supply Agreement 2027.pdf", "Status: Legal Review Done", contract, "Legal Review Done",
             f"approval {first} started", "#commercial"),
            ("Supply Agreement 2027.pdf", "Status: Signed", contract, "Signed",
             f"{SIGNED_SUPPLIER}: contract signed", "#procurement"),
            ("Framework Agreement.pdf", "workflow completed", framework, None,
             f"{WORKFLOW_SUPPLIER}: contract approved", "#procurement")]
    for name, change, doc, status, erp, chat in rows:
        ingress = sorted({e["ingress"] for e in events if e["document"]["node_id"] == doc and (
            (status is None and e["kind"] == "workflow.finished")
            or (status is not None and (e["document"]["attributes"].get("Document") or {}).get("Status") == status))})
        table.add_row(name, change, " + ".join(ingress) or "-", erp, chat)
    c.print(table)
    by_channel = Counter(m["channel"] for m in messages)
    paths = Counter(e["ingress"] for e in events if not e["snapshot"])
    c.print(f"[bold]counts[/] OpenText events: {', '.join(f'{k}={v}' for k, v in sorted(paths.items()))}; "
            f"ERP approvals: {len(approvals)}; chat messages: "
            + ", ".join(f"#{k}={v}" for k, v in sorted(by_channel.items())))
    for message in messages:
        c.print(f"  [cyan]#{message['channel']}[/] {message['text'][:110]}")
    return {
        "legal review done started exactly one commercial approval in the ERP": len(approvals) == 1
        and approvals[0]["process"] == "commercial_approval"
        and approvals[0]["record"] == {"entity": "suppliers", "id": SIGNED_SUPPLIER},
        "the signed contract set the supplier's contract status and link": bool(signed)
        and str(signed.get("contract_url", "")).endswith(f"/app/nodes/{contract}"),
        "the completed workflow set the other supplier's contract status": bool(approved),
        "each team was told once per change (#commercial 1, #procurement 2)": by_channel == {"commercial": 1,
                                                                                             "procurement": 2},
        "every change was seen by both the webhook and the poller, and acted on once": bool(seen_twice),
        "an unsigned webhook request was refused with 401": unsigned == 401,
    }
