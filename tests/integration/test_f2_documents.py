"""Flow F2 end to end on a real broker: documents both ways between the ERP emulator's SAP attachment
service and the supplier's workspace in the OpenText emulator, with real worker processes.

ERP -> OpenText: an attachment row (the change feed, as Debezium gives it) is a notice; the worker
fetches the body from the attachment API, streams it into the workspace (a new document, a new
version when the bytes differ, nothing when they are the same) and marks the copy on a source delete.
OpenText -> ERP: a contract filed in the workspace becomes a link on the ERP supplier; signed, its
version is locked and linked; the ERP's approval decision becomes the contract's Status.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import TIMEOUT_S, decoded, quiet
from tests.integration.test_f3_f6_status import POLLER, eventually
from tests.integration.test_f4_sync import metric
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import Collector, wait_ready
from xstream.demo.opentext_user import file_document, set_status, workspace_for
from xstream.topics import Role

pytestmark = pytest.mark.integration

SUPPLIER_ID = "0000300007"
SUPPLIER = {"id": SUPPLIER_ID, "supplier_id": SUPPLIER_ID, "name": "Initech Parts", "purchaser": "k.tanaka",
            "country": "DE", "posting_block": False}
BO = {"ext_system_id": "SAP_PRD", "bo_type": "LFA1", "bo_id": SUPPLIER_ID}
DOC = "2015"
"""The Document category of the emulator's seed (and the shipped catalog): its attribute keys."""
TYPE, STATUS, SOURCE_ID, SOURCE_VERSION = f"{DOC}_2", f"{DOC}_3", f"{DOC}_5", f"{DOC}_6"


async def attach(stack: Stack, name: str, body: bytes, *, document_type: str = "Purchase Order",
                 version_of: str | None = None, declared_mime: str = "application/pdf") -> dict[str, Any]:
    """What an ERP user does: attach a file to the supplier (or a new version of an attachment)."""
    erp = stack.targets["erp"].admin_url
    if version_of is None:
        url = f"{erp}/attachments"
        params = {"bo_type": "LFA1", "bo_key": SUPPLIER_ID, "file_name": name, "mime": declared_mime,
                  "document_type": document_type}
    else:
        url, params = f"{erp}/attachments/{version_of}/versions", {"file_name": name, "mime": declared_mime}
    async with aiohttp.ClientSession() as http, http.post(url, params=params, data=body) as resp:
        resp.raise_for_status()
        return dict(await resp.json())


async def erp_attachments(stack: Stack) -> list[dict[str, Any]]:
    found = await stack.admin(f"attachments?bo_type=LFA1&bo_key={SUPPLIER_ID}", target="erp")
    return list(found["attachments"])


def in_workspace(state: dict[str, Any], workspace: int) -> dict[str, dict[str, Any]]:
    """Documents anywhere below the workspace, by path relative to it."""
    folders = {f["id"]: f for f in state["folders"]}

    def path(parent: int) -> str | None:
        parts = []
        while parent != workspace:
            folder = folders.get(parent)
            if folder is None:
                return None
            parts.append(folder["name"])
            parent = folder["parent_id"]
        return "/".join(reversed(parts))

    found = {}
    for doc in state["documents"]:
        where = path(doc["parent_id"])
        if where is not None:
            found[f"{where}/{doc['name']}".lstrip("/")] = doc
    return found


def document_statuses(collector: Collector, stack: Stack, kind: str) -> list[dict[str, Any]]:
    return [s for s in decoded(collector, stack.topic(Role.STATUS)) if s["command_kind"] == kind]


async def supplier_workspace(stack: Stack, client: OpenTextClient) -> int:
    await stack.admin("records/suppliers", "POST", SUPPLIER, target="erp")
    return await workspace_for(client, "Supplier", BusinessObjectRef(**BO), f"{SUPPLIER['name']} ({SUPPLIER_ID})")


async def test_erp_attachments_become_governed_documents_with_versions_and_a_replay_adds_nothing(
        stack: Stack, opentext: OpenTextClient) -> None:
    workspace = await supplier_workspace(stack, opentext)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    await stack.forward_cdc("erp", lambda entity: f"erp.cdc.{entity}")
    stack.start_worker()
    po_v1 = b"%PDF-1.7 purchase order 4500000001 " + os.urandom(3000)
    po = await attach(stack, "PO-4500000001.pdf", po_v1)
    year = po["changed_at"][:4]

    def stored(n: int) -> bool:
        return len([s for s in document_statuses(collector, stack, "store_document")
                    if s["outcome"] in ("applied", "already_applied")]) >= n

    assert await collector.wait_for(lambda: stored(1), TIMEOUT_S), stack.logs()
    docs = in_workspace(await stack.admin("state"), workspace)
    governed = docs[f"Purchase Orders/{year}/PO-4500000001.pdf"]
    (v1,) = governed["versions"]
    assert v1["sha256"] == hashlib.sha256(po_v1).hexdigest() and v1["size"] == len(po_v1)
    assert governed["categories"][TYPE] == "Purchase Order" and governed["categories"][STATUS] == "Received"
    assert governed["categories"][SOURCE_ID] == po["attachment_id"]
    assert governed["categories"][SOURCE_VERSION] == "1"
    (first,) = document_statuses(collector, stack, "store_document")
    assert first["outcome"] == "applied" and first["business_object"] == BO
    assert first["document"]["node_id"] == governed["id"] and first["document"]["version"] == 1

    await set_status(opentext, governed["id"], "Approved")  # a decision made in OpenText on the governed copy
    po_v2 = po_v1 + b" amended: delivery date moved"
    await attach(stack, "PO-4500000001.pdf", po_v2, version_of=po["attachment_id"])  # a new version, new bytes
    await attach(stack, "PO-4500000001.pdf", po_v2, version_of=po["attachment_id"])  # again, the same bytes
    assert await collector.wait_for(lambda: stored(3), TIMEOUT_S), stack.logs()
    governed = in_workspace(await stack.admin("state"), workspace)[f"Purchase Orders/{year}/PO-4500000001.pdf"]
    assert [v["sha256"] for v in governed["versions"]] == [hashlib.sha256(b).hexdigest() for b in (po_v1, po_v2)]
    assert governed["categories"][SOURCE_VERSION] == "2"  # the same content as version 2: recorded, not stored
    assert governed["categories"][STATUS] == "Approved"  # a new source version does not undo it
    assert [s["outcome"] for s in document_statuses(collector, stack, "store_document")] == \
        ["applied", "applied", "already_applied"]

    invoice = await attach(stack, "INV-90001.pdf", b"%PDF-1.7 invoice", document_type="Invoice")
    await attach(stack, "Catalogue.pdf", b"%PDF-1.7 catalogue", document_type="Brochure")  # no rule takes it
    assert await collector.wait_for(lambda: stored(4), TIMEOUT_S), stack.logs()
    async with aiohttp.ClientSession() as http, \
            http.delete(f"{stack.targets['erp'].admin_url}/attachments/{invoice['attachment_id']}") as resp:
        resp.raise_for_status()
    assert await collector.wait_for(lambda: any(s["outcome"] == "applied" for s in document_statuses(
        collector, stack, "mark_document")), TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 2.0)
    docs = in_workspace(await stack.admin("state"), workspace)
    assert sorted(docs) == [f"Invoices/{year}/INV-90001.pdf", f"Purchase Orders/{year}/PO-4500000001.pdf"]
    assert docs[f"Invoices/{year}/INV-90001.pdf"]["categories"][STATUS] == "Deleted in source"  # kept, marked
    assert decoded(collector, stack.topic(Role.DEAD_LETTER)) == []

    # replay: a second deployment reads every topic from offset 0; nothing is written to OpenText again
    before, calls = await stack.admin("state"), await stack.admin("calls")
    handled = len(decoded(collector, stack.topic(Role.STATUS)))
    stack.start_worker(app_id="xstream-replay")
    assert await collector.wait_for(lambda: len(document_statuses(collector, stack, "store_document")) >= 8,
                                    TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 2.0)
    replayed = decoded(collector, stack.topic(Role.STATUS))[handled:]
    assert {s["outcome"] for s in replayed if s["command_kind"] in ("store_document", "mark_document")} == \
        {"already_applied"}
    after = await stack.admin("state")
    assert in_workspace(after, workspace) == in_workspace(before, workspace)
    made = {op: n - calls.get(op, 0) for op, n in (await stack.admin("calls")).items() if n != calls.get(op)}
    assert set(made) <= {"auth.login"}, made  # the new worker logs in; no other call, no write at all


async def test_workspace_contracts_reach_the_erp_as_links_signed_versions_lock_and_erp_approvals_set_status(
        stack: Stack, opentext: OpenTextClient) -> None:
    workspace = await supplier_workspace(stack, opentext)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    await stack.forward_cdc("erp", lambda entity: f"erp.cdc.{entity}")
    worker = stack.start_worker(**POLLER)
    assert await wait_ready(worker, TIMEOUT_S), stack.logs()

    async def first_scan_done() -> bool:  # what the first scan finds is a snapshot: file the contract after it
        return await metric(stack, 'xstream_poller_cycles_total{outcome="ok"}') >= 1

    await eventually(first_scan_done, collector, stack)
    contract = await file_document(opentext, workspace, "Supply Agreement 2027.pdf", document_type="Contract",
                                   status="In Legal Review")

    async def links() -> list[dict[str, Any]]:
        return [a for a in await erp_attachments(stack) if a["kind"] == "url"]

    (link,) = await eventually(links, collector, stack)
    assert link["url"].startswith(stack.emulator.url) and link["changed_by_origin"] == "xstream"
    assert link["file_name"] == "Supply Agreement 2027.pdf"

    await set_status(opentext, contract, "Legal Review Done")  # F3: the commercial approval starts in the ERP
    (approval,) = await eventually(lambda: _pending_approvals(stack), collector, stack)
    async with aiohttp.ClientSession() as http, http.post(
            f"{stack.targets['erp'].admin_url}/approvals/{approval['id']}/decide",
            json={"decision": "approved", "by": "p.jones"}) as resp:
        resp.raise_for_status()
    status = await eventually(lambda: _status_of(opentext, contract, "Commercially Approved"), collector, stack)
    assert status == "Commercially Approved"

    await set_status(opentext, contract, "Signed")  # F6 + the governed copy: version 1 locked, its link to the ERP
    locked = await eventually(lambda: _locked_versions(stack, contract), collector, stack)
    assert locked == [1]
    await eventually(lambda: _named_link(stack, "Supply Agreement 2027.pdf (version 1, locked)"), collector, stack)
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    # what xstream wrote into the ERP did not come back as documents (echo by origin), nor went twice
    names = sorted(a["file_name"] for a in await erp_attachments(stack))
    assert names == ["Supply Agreement 2027.pdf", "Supply Agreement 2027.pdf (version 1, locked)"]
    docs = in_workspace(await stack.admin("state"), workspace)
    assert sorted(docs) == ["Supply Agreement 2027.pdf"]
    assert decoded(collector, stack.topic(Role.DEAD_LETTER)) == []


async def _pending_approvals(stack: Stack) -> list[dict[str, Any]]:
    found = (await stack.admin("state", target="erp"))["records"].get("approvals", [])
    return [a for a in found if a["status"] == "pending"]


async def _status_of(client: OpenTextClient, node: int, wanted: str) -> str | None:
    return wanted if (await client.get_categories(node)).get(STATUS) == wanted else None


async def _locked_versions(stack: Stack, node: int) -> list[int]:
    doc = next(d for d in (await stack.admin("state"))["documents"] if d["id"] == node)
    return [v["version_number"] for v in doc["versions"] if v["locked"]]


async def _named_link(stack: Stack, name: str) -> list[dict[str, Any]]:
    return [a for a in await erp_attachments(stack) if a["kind"] == "url" and a["file_name"] == name]
