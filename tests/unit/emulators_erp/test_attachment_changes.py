"""SAP attachments in the ERP's Debezium-shaped change feed, through the API and the admin seeding API."""

from __future__ import annotations

from typing import Any

import aiohttp
from xstream_emulators.erp import RunningErpEmulator

from tests.unit.emulators_erp.conftest import Sap, changes

COLUMNS = {"attachment_id", "doc_type", "doc_number", "doc_part", "doc_version", "logical_document",
           "archive_document_id", "bo_type", "bo_key", "file_name", "mime_type", "file_size", "version", "kind", "url",
           "document_type", "storage_category", "created_by", "created_at", "changed_by", "changed_at",
           "changed_by_origin", "sha256"}


async def admin(http: aiohttp.ClientSession, emu: RunningErpEmulator, method: str, what: str,
                **kw: Any) -> tuple[int, Any]:
    async with http.request(method, f"{emu.admin_url}/{what}", **kw) as r:
        return r.status, await r.json()


async def test_create_new_version_and_delete_are_c_u_d_rows(sap: Sap) -> None:
    first = (await sap.upload(b"v0", headers={"X-Xstream-Origin": "xstream", "X-Document-Type": "Purchase Order"})
             ).body["d"]
    await sap.upload(b"version one", name="po-v2.pdf", mime="application/x-pdf", headers={
        "DocumentInfoRecordDocNumber": first["DocumentInfoRecordDocNumber"]})
    listed = await sap.originals()
    key = ",".join(f"{k}='{listed[0][k]}'" for k in (
        "DocumentInfoRecordDocType", "DocumentInfoRecordDocNumber", "DocumentInfoRecordDocVersion",
        "DocumentInfoRecordDocPart", "LogicalDocument", "ArchiveDocumentID", "LinkedSAPObjectKey",
        "BusinessObjectTypeName"))
    assert (await sap.call("DELETE", f"/AttachmentContentSet({key})", headers={"X-Xstream-Origin": "xstream"})
            ).status == 204

    rows = await changes(sap.http, sap.emu, "attachments")
    assert [(c["value"]["op"], c["key"]) for c in rows] == [("c", {"attachment_id": "ATT-000001"})] * 1 + [
        ("u", {"attachment_id": "ATT-000001"}), ("d", {"attachment_id": "ATT-000001"})]
    created, updated, deleted = (c["value"] for c in rows)
    assert set(created["after"]) == COLUMNS and created["before"] is None
    assert created["source"]["table"] == "attachments" and created["source"]["connector"] == "postgresql"
    row = created["after"]
    assert (row["doc_type"], row["doc_number"], row["doc_part"], row["doc_version"]) == (
        "SAT", first["DocumentInfoRecordDocNumber"], "000", "00")
    assert (row["logical_document"], row["archive_document_id"]) == (first["LogicalDocument"],
                                                                     first["ArchiveDocumentID"])
    assert (row["bo_type"], row["bo_key"], row["file_name"], row["mime_type"], row["file_size"]) == (
        "BUS2012", "4500000001", "po-4500000001.pdf", "application/pdf", 2)
    assert (row["version"], row["kind"], row["url"], row["document_type"]) == (1, "file", None, "Purchase Order")
    assert (row["created_by"], row["changed_by_origin"], row["sha256"]) == ("COMM_USER", "xstream", None)
    assert updated["before"] == row
    after = updated["after"]
    assert (after["version"], after["doc_version"], after["file_name"], after["mime_type"], after["file_size"]) == (
        2, "01", "po-v2.pdf", "application/x-pdf", 11)
    assert after["changed_by_origin"] is None  # that upload said no X-Xstream-Origin
    assert after["logical_document"] != row["logical_document"] and after["created_at"] == row["created_at"]
    assert (deleted["before"], deleted["after"]) == (after, None)


async def test_links_are_url_rows(sap: Sap) -> None:
    reply = await sap.call("POST", "/CreateUrlAsAttachment", headers={"X-Xstream-Origin": "xstream"}, params={
        "BusinessObjectTypeName": "'BUS2012'", "LinkedSAPObjectKey": "'4500000001'", "MIMEType": "'text/url'",
        "UrlDescription": "'Workspace'", "Url": "'https://otcs.example.com/ws/1'"})
    assert reply.status == 200
    row = (await changes(sap.http, sap.emu, "attachments"))[0]["value"]["after"]
    assert (row["kind"], row["url"], row["mime_type"], row["file_name"], row["file_size"]) == (
        "url", "https://otcs.example.com/ws/1", "text/url", "Workspace", 0)
    assert row["changed_by_origin"] == "xstream"


async def test_the_admin_api_seeds_attachments_as_an_erp_user(http: aiohttp.ClientSession,
                                                               emulator: RunningErpEmulator, sap: Sap) -> None:
    async def body() -> Any:
        for part in (b"%PDF-1.7 ", b"invoice " * 1000):
            yield part

    status, row = await admin(http, emulator, "POST", "attachments", data=body(), params={
        "bo_type": "BUS2012", "bo_key": "4500000001", "file_name": "invoice-77.pdf", "mime": "application/pdf",
        "document_type": "Invoice"})
    assert status == 201, row
    assert set(row) == COLUMNS | {"stored_sha256"}
    assert (row["created_by"], row["changed_by_origin"], row["document_type"], row["file_size"]) == (
        "ERP_USER", None, "Invoice", 9 + 8000)
    listed = await sap.originals()
    assert [(e["FileName"], e["CreatedByUser"]) for e in listed] == [("invoice-77.pdf", "ERP_USER")]
    async with http.get(listed[0]["__metadata"]["media_src"]) as r:
        assert (await r.read()).startswith(b"%PDF-1.7 invoice")

    status, versioned = await admin(http, emulator, "POST", f"attachments/{row['attachment_id']}/versions",
                                    data=b"corrected", params={"file_name": "invoice-77-corrected.pdf"})
    assert status == 200 and (versioned["version"], versioned["doc_version"], versioned["file_size"]) == (2, "01", 9)
    assert versioned["mime_type"] == "application/pdf"  # kept when not given
    status, link = await admin(http, emulator, "POST", "attachments", params={
        "bo_type": "BUS2012", "bo_key": "4500000001", "url": "https://portal.example/po/1", "file_name": "Portal"})
    assert status == 201 and (link["kind"], link["file_name"]) == ("url", "Portal")
    status, found = await admin(http, emulator, "GET", "attachments", params={"bo_key": "4500000001"})
    assert [a["attachment_id"] for a in found["attachments"]] == ["ATT-000001", "ATT-000002"]
    status, gone = await admin(http, emulator, "DELETE", f"attachments/{link['attachment_id']}")
    assert status == 200 and gone["deleted"]["attachment_id"] == "ATT-000002"
    assert [c["value"]["op"] for c in await changes(http, emulator, "attachments")] == ["c", "u", "c", "d"]

    status, error = await admin(http, emulator, "POST", "attachments", data=b"x", params={
        "bo_type": "NOPE", "bo_key": "1", "file_name": "x"})
    assert status == 400 and error["error"]["code"] == "CV_ATTACHMENT/001"
    status, error = await admin(http, emulator, "POST", "attachments/ATT-999999/versions", data=b"x")
    assert status == 404
    status, state = await admin(http, emulator, "GET", "state")
    assert state["counts"]["attachments"] == 1 and state["attachments"][0]["stored_sha256"]
    await admin(http, emulator, "POST", "reset")
    status, state = await admin(http, emulator, "GET", "state")
    assert state["counts"]["attachments"] == 0 and state["attachments"] == []


async def test_calls_are_counted_by_operation(sap: Sap) -> None:
    await sap.upload(b"x")
    await sap.originals()
    async with sap.http.get(f"{sap.emu.admin_url}/calls") as r:
        calls = await r.json()
    assert calls["sap.service"] == 1 and calls["sap.attachments.upload"] == 1
    assert calls["sap.attachments.list"] == 1 and calls["state_changing"] == 1
