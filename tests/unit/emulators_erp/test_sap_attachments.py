"""The emulated SAP attachment service API_CV_ATTACHMENT_SRV over real HTTP: uploads, downloads, versions,
links, deletes, the CSRF token, and errors in OData form."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, start_erp_emulator

from tests.unit.emulators_erp.conftest import PO, Erp, Raw, Sap

KEYS = ("DocumentInfoRecordDocType", "DocumentInfoRecordDocNumber", "DocumentInfoRecordDocVersion",
        "DocumentInfoRecordDocPart", "LogicalDocument", "ArchiveDocumentID", "LinkedSAPObjectKey",
        "BusinessObjectTypeName")


def key_of(entity: dict[str, Any]) -> str:
    return ",".join(f"{k}='{entity[k]}'" for k in KEYS)


def odata_error(reply: Raw, status: int) -> str:
    """The message of an OData v2 error answer (and its shape checked)."""
    assert reply.status == status, reply.body
    error = reply.body["error"]
    assert set(error) == {"code", "message", "innererror"} and error["message"]["lang"] == "en"
    assert set(error["innererror"]) == {"transactionid", "timestamp", "errordetails"}
    return str(error["message"]["value"])


async def test_the_service_document_hands_out_a_csrf_token_with_a_session_cookie(sap: Sap) -> None:
    reply = await sap.fetch_token()
    assert reply.status == 200 and "AttachmentContentSet" in reply.body["d"]["EntitySets"]
    assert sap.token and sap.cookie and sap.cookie.startswith("SAP_SESSIONID_XS1_100=")
    again = await sap.call("GET", "/", headers={"x-csrf-token": "Fetch", "Cookie": sap.cookie})
    assert again.headers["x-csrf-token"] == sap.token and "Set-Cookie" not in again.headers  # same session
    plain = await sap.call("GET", "/")
    assert "x-csrf-token" not in plain.headers  # only handed out when asked for


async def test_an_upload_is_answered_with_its_entity_and_streams_back(sap: Sap) -> None:
    data = b"%PDF-1.7 purchase order 4500000001\n" * 100
    reply = await sap.upload(data, headers={"X-Xstream-Origin": "xstream"})
    assert reply.status == 201, reply.body
    entity = reply.body["d"]
    assert entity["__metadata"]["type"] == "API_CV_ATTACHMENT_SRV.AttachmentContent"
    assert reply.headers["Location"] == entity["__metadata"]["uri"] == entity["__metadata"]["id"]
    assert entity["__metadata"]["media_src"] == entity["__metadata"]["uri"] + "/$value"
    assert (entity["DocumentInfoRecordDocType"], entity["DocumentInfoRecordDocVersion"],
            entity["DocumentInfoRecordDocPart"]) == ("SAT", "00", "000")
    assert (entity["BusinessObjectTypeName"], entity["LinkedSAPObjectKey"]) == PO
    assert re.fullmatch(r"[0-9A-F]{32}", entity["LogicalDocument"]) and entity["ArchiveDocumentID"]
    assert (entity["FileName"], entity["FileSize"], entity["MimeType"]) == ("po-4500000001.pdf", str(len(data)),
                                                                            "application/pdf")
    assert entity["CreatedByUser"] == "COMM_USER" and re.fullmatch(r"/Date\(\d+\)/", entity["ChangedDateTime"])
    assert "Content" not in entity
    async with sap.http.get(entity["__metadata"]["media_src"]) as r:
        assert (r.status, await r.read()) == (200, data)
        assert (r.content_type, r.content_length) == ("application/pdf", len(data))
        assert r.content_disposition is not None and r.content_disposition.filename == "po-4500000001.pdf"
    by_key = await sap.call("GET", f"/AttachmentContentSet({key_of(entity)})")
    assert by_key.status == 200 and by_key.body["d"] == entity


async def test_the_slug_is_a_percent_encoded_file_name(sap: Sap) -> None:
    reply = await sap.upload(b"x", name="Lieferantenvertrag Müller & Söhne.pdf")
    entity = reply.body["d"]
    assert entity["FileName"] == "Lieferantenvertrag Müller & Söhne.pdf"
    async with sap.http.get(entity["__metadata"]["media_src"]) as r:
        assert r.content_disposition is not None
        assert r.content_disposition.filename == "Lieferantenvertrag Müller & Söhne.pdf"


async def test_get_all_originals_lists_the_latest_version_of_each_document_of_one_object(sap: Sap) -> None:
    first = (await sap.upload(b"v0", name="a.pdf")).body["d"]
    await sap.upload(b"other", name="b.txt", mime="text/plain")
    await sap.upload(b"elsewhere", obj=("BUS2012", "4500000002"))
    version = await sap.upload(b"v1 longer", name="a-v2.pdf", headers={
        "DocumentInfoRecordDocType": "SAT", "DocumentInfoRecordDocNumber": first["DocumentInfoRecordDocNumber"]})
    assert version.status == 201, version.body
    latest = version.body["d"]
    assert latest["DocumentInfoRecordDocNumber"] == first["DocumentInfoRecordDocNumber"]
    assert (latest["DocumentInfoRecordDocVersion"], latest["FileName"], latest["FileSize"]) == ("01", "a-v2.pdf", "9")
    assert latest["LogicalDocument"] != first["LogicalDocument"]
    listed = await sap.originals()
    assert sorted((e["FileName"], e["DocumentInfoRecordDocVersion"]) for e in listed) == [("a-v2.pdf", "01"),
                                                                                         ("b.txt", "00")]
    assert [e["FileName"] for e in await sap.originals(("BUS2012", "4500000002"))] == ["po-4500000001.pdf"]
    assert await sap.originals(("BUS2012", "4599999999")) == []
    async with sap.http.get(first["__metadata"]["media_src"]) as r:  # the older version stays readable
        assert await r.read() == b"v0"


async def test_a_new_version_names_a_document_of_the_same_object(sap: Sap) -> None:
    first = (await sap.upload(b"v0")).body["d"]
    unknown = await sap.upload(b"v1", headers={"DocumentInfoRecordDocNumber": "99999999999"})
    assert "is not linked" in odata_error(unknown, 404)
    other_object = await sap.upload(b"v1", obj=("BUS2012", "4500000009"),
                                    headers={"DocumentInfoRecordDocNumber": first["DocumentInfoRecordDocNumber"]})
    odata_error(other_object, 404)
    assert len(await sap.originals()) == 1


async def test_create_url_as_attachment_links_a_url(sap: Sap) -> None:
    url = "https://otcs.example.com/otcs/cs.exe/app/nodes/4711"
    reply = await sap.call("POST", "/CreateUrlAsAttachment", params={
        "BusinessObjectTypeName": "'BUS2012'", "LinkedSAPObjectKey": "'4500000001'", "MIMEType": "'text/url'",
        "UrlDescription": "'Signed contract (workspace)'", "Url": f"'{url}'"})
    assert reply.status == 200, reply.body
    entity = reply.body["d"]
    assert (entity["MimeType"], entity["DocumentURL"], entity["FileName"], entity["FileSize"]) == (
        "text/url", url, "Signed contract (workspace)", "0")
    assert [e["DocumentURL"] for e in await sap.originals()] == [url]
    content = await sap.call("GET", f"/AttachmentContentSet({key_of(entity)})/$value")
    assert "is a link" in odata_error(content, 400)
    too_long = await sap.call("POST", "/CreateUrlAsAttachment", params={
        "BusinessObjectTypeName": "'BUS2012'", "LinkedSAPObjectKey": "'4500000001'", "MIMEType": "'text/url'",
        "UrlDescription": "'x'", "Url": "'https://x.example/" + "a" * 255 + "'"})
    assert "255" in odata_error(too_long, 400)
    wrong_mime = await sap.call("POST", "/CreateUrlAsAttachment", params={
        "BusinessObjectTypeName": "'BUS2012'", "LinkedSAPObjectKey": "'4500000001'", "MIMEType": "'text/plain'",
        "UrlDescription": "'x'", "Url": "'https://x.example/'"})
    odata_error(wrong_mime, 400)


async def test_delete_removes_every_version(sap: Sap) -> None:
    entity = (await sap.upload(b"v0")).body["d"]
    newer = (await sap.upload(b"v1", headers={"DocumentInfoRecordDocNumber": entity["DocumentInfoRecordDocNumber"]})
             ).body["d"]
    deleted = await sap.call("DELETE", f"/AttachmentContentSet({key_of(newer)})")
    assert (deleted.status, deleted.body) == (204, "")
    assert await sap.originals() == []
    for gone in (entity, newer):
        odata_error(await sap.call("GET", f"/AttachmentContentSet({key_of(gone)})/$value"), 404)
    odata_error(await sap.call("DELETE", f"/AttachmentContentSet({key_of(newer)})"), 404)


async def test_errors_are_odata_errors(sap: Sap, erp: Erp) -> None:
    assert "not supported" in odata_error(await sap.upload(b"x", obj=("ZZZ1", "1")), 400)
    assert "does not exist" in odata_error(await sap.upload(b"x", obj=("LFA1", "0000399999")), 404)
    supplier = (await erp.call("POST", "/suppliers", {"id": "0000300001", "name": "Müller"})).body
    assert (await sap.upload(b"x", obj=("LFA1", supplier["id"]))).status == 201
    odata_error(await sap.upload(b"x", obj=("BUS2012", "")), 400)
    missing_slug = await sap.call("POST", "/AttachmentContentSet", data=b"x", headers={
        "BusinessObjectTypeName": "BUS2012", "LinkedSAPObjectKey": "4500000001"})
    assert "Slug" in odata_error(missing_slug, 400)
    unknown = ",".join(f"{k}='{'0' if k != 'BusinessObjectTypeName' else 'BUS2012'}'" for k in KEYS)
    assert odata_error(await sap.call("GET", f"/AttachmentContentSet({unknown})/$value"), 404)
    odata_error(await sap.call("GET", f"/AttachmentContentSet({unknown})"), 404)
    odata_error(await sap.call("GET", "/AttachmentContentSet(DocumentInfoRecordDocType='SAT')/$value"), 400)
    odata_error(await sap.call("GET", "/GetAllOriginals", params={"BusinessObjectTypeName": "'BUS2012'"}), 400)
    odata_error(await sap.call("GET", "/GetAllOriginals", params={"BusinessObjectTypeName": "BUS2012",
                                                                  "LinkedSAPObjectKey": "'1'"}), 400)
    odata_error(await sap.call("GET", "/NoSuchSet"), 404)
    not_allowed = await sap.call("PUT", f"/AttachmentContentSet({unknown})", data=b"x")
    assert odata_error(not_allowed, 405) and "DELETE" in not_allowed.headers["Allow"]


@pytest.mark.parametrize("how", ["no token", "wrong token", "no session cookie", "expired"])
async def test_a_write_without_a_valid_csrf_token_is_refused_before_anything_is_stored(sap: Sap, how: str) -> None:
    await sap.fetch_token()
    if how == "no token":
        sap.token = None
    elif how == "wrong token":
        sap.token = "not-the-token=="
    elif how == "no session cookie":
        sap.cookie = None
    else:
        async with sap.http.post(f"{sap.emu.admin_url}/faults", json={"expire_csrf_tokens": True}) as r:
            assert (await r.json())["expired_csrf_tokens"] is True
    refused = await sap.upload(b"x" * (1 << 20), csrf=False, headers=sap.csrf())  # a body the server drains
    assert (refused.status, refused.body, refused.headers["x-csrf-token"]) == (403, "CSRF token validation failed",
                                                                                "Required")
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert await sap.originals() == []
    await sap.fetch_token()
    assert (await sap.upload(b"x")).status == 201


async def test_the_service_takes_the_emulators_credentials(http: aiohttp.ClientSession) -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        sap = Sap(http, emu, {})
        refused = await sap.call("GET", "/", csrf=False)
        assert odata_error(refused, 401) and refused.headers["WWW-Authenticate"].startswith("Bearer")
        sap.auth = {"Authorization": "Bearer erp-token"}
        assert (await sap.upload(b"x")).status == 201
