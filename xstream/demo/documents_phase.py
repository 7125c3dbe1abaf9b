"""The demo's third act: flow F2, documents both ways between the ERP and the supplier's workspace.

An ERP buyer attaches a purchase order's PDF to the supplier Globex Metals: it appears, governed,
in the supplier's workspace under ``Purchase Orders/<year>`` with its Document category set. An
invoice arrives, then its corrected version: version 2 in OpenText; the same bytes sent once more
add nothing. From the second act: the contract filed in OpenText is a link on the ERP supplier, and
the signed version is locked with its own link. Nothing xstream wrote on either side comes back as
a new document. Bodies go from the ERP's attachment service to OpenText, never through Kafka.

Waits are on the status topic (each attachment's outcome) and on the emulators' state, never on time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from pydantic import HttpUrl
from rich.console import Console
from rich.table import Table
from xstream_emulators.erp import RunningErpEmulator

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import Collector
from xstream.demo.status_phase import SIGNED_SUPPLIER, until
from xstream.settings import OpenTextSettings

CONTRACT = "Supply Agreement 2027.pdf"
LOCKED_LINK = f"{CONTRACT} (version 1, locked)"
PO_NAME, INVOICE_NAME = "PO-4500012345.pdf", "INV-2026-0042.pdf"


@dataclass
class DocumentStage:
    console: Console
    opentext_url: str
    opentext_admin_url: str
    erp: RunningErpEmulator
    collector: Collector
    status_topic: str
    timeout_s: float

    def outcomes(self, kind: str) -> list[dict[str, Any]]:
        found = [orjson.loads(r.value) for r in self.collector.records[self.status_topic]]
        return [s for s in found if s["command_kind"] == kind]

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        return await until(self.console, what, check, self.timeout_s)

    async def attach(self, name: str, body: bytes, *, document_type: str, version_of: str | None = None
                     ) -> dict[str, Any]:
        """What an ERP user does in the supplier's attachment list (the ERP's own UI, not xstream)."""
        base = self.erp.admin_url
        url = f"{base}/attachments" if version_of is None else f"{base}/attachments/{version_of}/versions"
        params = {"file_name": name, "mime": "application/pdf"}
        if version_of is None:
            params |= {"bo_type": "LFA1", "bo_key": SIGNED_SUPPLIER, "document_type": document_type}
        async with aiohttp.ClientSession() as http, http.post(url, params=params, data=body) as resp:
            return dict(await resp.json())

    async def erp_attachments(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(
                f"{self.erp.admin_url}/attachments", params={"bo_type": "LFA1", "bo_key": SIGNED_SUPPLIER}) as resp:
            return list((await resp.json())["attachments"])

    async def documents(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.opentext_admin_url}/state") as resp:
            return list((await resp.json())["documents"])


async def run_document_stage(stage: DocumentStage) -> dict[str, bool]:
    """Act the documents' journey; returns the checks that must hold."""
    c = stage.console
    c.rule("[bold]F2: documents both ways between the ERP and the supplier's workspace")
    async with OpenTextClient(OpenTextSettings(base_url=HttpUrl(stage.opentext_url))) as opentext:
        workspace = await opentext.find_workspace(BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                    bo_id=SIGNED_SUPPLIER))
        if workspace is None:
            return {"the supplier has a workspace (F1)": False}
        po_bytes = b"%PDF-1.7 purchase order 4500012345 Globex Metals " + bytes(range(256)) * 64
        c.print(f"[bold]ERP[/]       a buyer attaches {PO_NAME} (Purchase Order) to supplier {SIGNED_SUPPLIER}")
        po = await stage.attach(PO_NAME, po_bytes, document_type="Purchase Order")
        year = str(po.get("changed_at", ""))[:4]
        po_doc = await stage.until(f"{PO_NAME} in the workspace",
                                   lambda: _stored(stage, opentext, workspace.node_id, ["Purchase Orders", year],
                                                   PO_NAME))
        invoice_v1 = b"%PDF-1.7 invoice 2026-0042 total 12,400.00 EUR"
        invoice_v2 = b"%PDF-1.7 invoice 2026-0042 total 12,040.00 EUR (corrected)"
        c.print(f"[bold]ERP[/]       accounts payable attaches {INVOICE_NAME}, then its corrected version, "
                "then the same bytes once more")
        invoice = await stage.attach(INVOICE_NAME, invoice_v1, document_type="Invoice")
        await stage.until(f"{INVOICE_NAME} in the workspace",
                          lambda: _stored(stage, opentext, workspace.node_id, ["Invoices", year], INVOICE_NAME))
        await stage.attach(INVOICE_NAME, invoice_v2, document_type="Invoice", version_of=invoice["attachment_id"])
        await stage.attach(INVOICE_NAME, invoice_v2, document_type="Invoice", version_of=invoice["attachment_id"])
        await stage.until("the purchase order's and the three invoice notices handled", lambda: _handled(stage, 4))
        invoice_doc = await _stored(stage, opentext, workspace.node_id, ["Invoices", year], INVOICE_NAME)
        links = await stage.until("the contract's links on the ERP supplier",
                                  lambda: _links(stage, {CONTRACT, LOCKED_LINK}))
        contract = await opentext.find_child(workspace.node_id, CONTRACT)
        documents = {d["id"]: d for d in await stage.documents()}
    po_versions = documents.get(po_doc or -1, {}).get("versions", [])
    invoice_versions = documents.get(invoice_doc or -1, {}).get("versions", [])
    contract_versions = documents.get(contract.id if contract else -1, {}).get("versions", [])
    names = [d["name"] for d in documents.values()]
    attachments = await stage.erp_attachments()
    table = Table(title="Documents between the ERP and OpenText")
    for column in ("document", "from", "in OpenText", "versions", "note"):
        table.add_column(column)
    table.add_row(PO_NAME, "ERP", f"Purchase Orders/{year}", str(len(po_versions)), "sha256 equal"
                  if po_versions and po_versions[-1]["sha256"] == hashlib.sha256(po_bytes).hexdigest() else "-")
    table.add_row(INVOICE_NAME, "ERP (3 notices)", f"Invoices/{year}", str(len(invoice_versions)),
                  "same bytes: nothing added")
    table.add_row(CONTRACT, "OpenText", "(filed by a buyer)", str(len(contract_versions)),
                  "locked: " + ", ".join(str(v["version_number"]) for v in contract_versions if v["locked"]))
    c.print(table)
    for attachment in attachments:
        c.print(f"  [cyan]ERP attachment[/] {attachment['file_name']} ({attachment['kind']}, "
                f"by {attachment['changed_by']})")
    sha = hashlib.sha256
    return {
        "an ERP purchase order's PDF is in the supplier's workspace under Purchase Orders/<year>, bytes equal":
            len(po_versions) == 1 and po_versions[0]["sha256"] == sha(po_bytes).hexdigest(),
        "the invoice's new version is version 2 in OpenText; the same bytes again added none":
            [v["sha256"] for v in invoice_versions] == [sha(invoice_v1).hexdigest(), sha(invoice_v2).hexdigest()],
        "the contract filed in OpenText is a link on the ERP supplier": bool(links) and CONTRACT in links,
        "the signed contract's version is locked, its link on the ERP supplier":
            [v["version_number"] for v in contract_versions if v["locked"]] == [1] and bool(links)
            and LOCKED_LINK in links,
        "nothing written on one side came back as a new document on the other":
            sorted(a["file_name"] for a in attachments) == sorted([PO_NAME, INVOICE_NAME, CONTRACT, LOCKED_LINK])
            and names.count(PO_NAME) == 1 and names.count(INVOICE_NAME) == 1 and names.count(CONTRACT) == 1,
    }


async def _stored(stage: DocumentStage, opentext: OpenTextClient, workspace: int, path: list[str],
                  name: str) -> int | None:
    """The document's node id once it is in the workspace at ``path`` (and its outcome is out)."""
    parent = workspace
    for part in path:
        folder = await opentext.find_child(parent, part)
        if folder is None:
            return None
        parent = folder.id
    found = await opentext.find_child(parent, name)
    applied = any(s["outcome"] == "applied" and (s.get("document") or {}).get("node_id") == (found.id if found else -1)
                  for s in stage.outcomes("store_document"))
    return found.id if found is not None and applied else None


async def _handled(stage: DocumentStage, count: int) -> bool:
    """``count`` attachment notices have their outcome (applied, or found already there)."""
    return len([s for s in stage.outcomes("store_document") if s["outcome"] in ("applied", "already_applied")]) >= count


async def _links(stage: DocumentStage, names: set[str]) -> set[str] | None:
    found = {a["file_name"] for a in await stage.erp_attachments() if a["kind"] == "url"}
    return found if names <= found else None

