"""The emulated Salesforce Files API (ContentVersion) over real HTTP: files, versions, links, deletes, errors
in Salesforce's form, the change feed rows, and the emulator's Idempotency-Key semantics on it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import aiohttp
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

from tests.unit.emulators_erp.conftest import SALESFORCE, Erp, Raw, changes, read

FIELDS = {"attributes", "Id", "ContentDocumentId", "VersionNumber", "IsLatest", "Title", "PathOnClient", "FileType",
          "FileExtension", "ContentSize", "Checksum", "ContentLocation", "ContentUrl", "FirstPublishLocationId",
          "ReasonForChange", "Description", "VersionData", "Document_Type__c", "OwnerId", "CreatedById",
          "CreatedDate", "LastModifiedDate"}


def form(entity: dict[str, Any], data: Any = None, *, filename: str = "contract.pdf",
         mime: str = "application/pdf") -> aiohttp.FormData:
    built = aiohttp.FormData()
    built.add_field("entity_content", json.dumps(entity), content_type="application/json")
    if data is not None:
        built.add_field("VersionData", data, filename=filename, content_type=mime)
    return built


async def sf(http: aiohttp.ClientSession, emu: RunningErpEmulator, method: str, path: str, *,
             key: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> Raw:
    sent = (headers or {}) | ({"Idempotency-Key": key} if key else {})
    async with http.request(method, f"{emu.origin}{SALESFORCE}{path}", headers=sent, **kw) as r:
        return await read(r)


def sf_error(reply: Raw, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert isinstance(reply.body, list) and len(reply.body) == 1
    error: dict[str, Any] = reply.body[0]
    assert set(error) == {"message", "errorCode", "fields"} and error["errorCode"] == code, error
    return error


async def account(erp: Erp) -> str:
    return str((await erp.call("POST", "/accounts", {"id": "0018d00000AbCdEAAV", "name": "Globex"})).body["id"])


async def test_a_file_is_created_read_and_streamed_back(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)
    data = b"%PDF-1.7 master services agreement " * 300
    created = await sf(http, emu, "POST", "/sobjects/ContentVersion", headers={"X-Xstream-Origin": "xstream"}, data=form(
        {"Title": "MSA Globex", "PathOnClient": "MSA Globex.pdf", "FirstPublishLocationId": record,
         "Document_Type__c": "Contract"}, data))
    assert created.status == 201, created.body
    assert created.body["success"] is True and created.body["errors"] == []
    version_id = created.body["id"]
    assert re.fullmatch(r"068[0-9A-Za-z]{15}", version_id)
    got = await sf(http, emu, "GET", f"/sobjects/ContentVersion/{version_id}")
    fields = got.body
    assert set(fields) == FIELDS
    assert fields["attributes"] == {"type": "ContentVersion", "url": f"{SALESFORCE}/sobjects/ContentVersion/{version_id}"}
    assert fields["ContentDocumentId"].startswith("069") and fields["VersionNumber"] == "1" and fields["IsLatest"]
    assert (fields["Title"], fields["PathOnClient"], fields["FileType"], fields["FileExtension"]) == (
        "MSA Globex", "MSA Globex.pdf", "PDF", "pdf")
    assert (fields["ContentSize"], fields["Checksum"]) == (len(data), hashlib.md5(data).hexdigest())  # noqa: S324
    assert (fields["FirstPublishLocationId"], fields["Document_Type__c"], fields["ContentUrl"]) == (
        record, "Contract", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", fields["CreatedDate"])
    assert fields["VersionData"] == f"{SALESFORCE}/sobjects/ContentVersion/{version_id}/VersionData"
    async with http.get(f"{emu.origin}{fields['VersionData']}") as r:
        assert (r.status, r.content_type, await r.read()) == (200, "application/pdf", data)
    short = await sf(http, emu, "GET", f"/sobjects/ContentVersion/{version_id[:15]}")
    assert short.body["Id"] == version_id  # the 15-character form names it too


async def test_a_new_version_names_the_document(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)
    first = (await sf(http, emu, "POST", "/sobjects/ContentVersion", data=form(
        {"PathOnClient": "nda.docx", "FirstPublishLocationId": record}, b"v1",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document"))).body["id"]
    document = (await sf(http, emu, "GET", f"/sobjects/ContentVersion/{first}")).body
    assert (document["Title"], document["FileType"]) == ("nda", "WORD_X")  # Title defaults to the name
    second = await sf(http, emu, "POST", "/sobjects/ContentVersion", headers={"X-Xstream-Origin": "xstream"},
                      data=form({"ContentDocumentId": document["ContentDocumentId"], "PathOnClient": "nda v2.docx",
                                 "ReasonForChange": "signed"}, b"version 2"))
    assert second.status == 201, second.body
    latest = (await sf(http, emu, "GET", f"/sobjects/ContentVersion/{second.body['id']}")).body
    assert (latest["ContentDocumentId"], latest["VersionNumber"], latest["IsLatest"]) == (
        document["ContentDocumentId"], "2", True)
    assert (latest["Title"], latest["ReasonForChange"], latest["FirstPublishLocationId"]) == ("nda", "signed", record)
    assert (await sf(http, emu, "GET", f"/sobjects/ContentVersion/{first}")).body["IsLatest"] is False

    rows = await changes(http, emu, "content_versions")
    assert [(c["value"]["op"], c["key"]) for c in rows] == [
        ("c", {"Id": first}), ("c", {"Id": latest["Id"]}), ("u", {"Id": first})]
    new_row, flipped = rows[1]["value"]["after"], rows[2]["value"]
    assert set(new_row) == FIELDS - {"attributes", "VersionData"} | {"changed_by_origin"}
    assert (new_row["VersionNumber"], new_row["Checksum"], new_row["changed_by_origin"]) == (
        "2", hashlib.md5(b"version 2").hexdigest(), "xstream")  # noqa: S324
    assert (flipped["before"]["IsLatest"], flipped["after"]["IsLatest"]) == (True, False)
    assert rows[0]["value"]["after"]["changed_by_origin"] is None and rows[0]["value"]["source"]["table"] == \
        "content_versions"


async def test_a_link_is_a_content_url_without_content(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)
    created = await sf(http, emu, "POST", "/sobjects/ContentVersion", json={
        "ContentUrl": "https://otcs.example.com/ws/42", "Title": "Workspace", "FirstPublishLocationId": record})
    assert created.status == 201, created.body
    link = (await sf(http, emu, "GET", f"/sobjects/ContentVersion/{created.body['id']}")).body
    assert (link["FileType"], link["ContentUrl"], link["Checksum"], link["ContentSize"], link["VersionData"]) == (
        "LINK", "https://otcs.example.com/ws/42", None, None, None)
    sf_error(await sf(http, emu, "GET", f"/sobjects/ContentVersion/{link['Id']}/VersionData"), 404, "NOT_FOUND")
    no_title = await sf(http, emu, "POST", "/sobjects/ContentVersion", json={"ContentUrl": "https://x.example"})
    assert sf_error(no_title, 400, "REQUIRED_FIELD_MISSING")["fields"] == ["Title"]
    version_of_link = await sf(http, emu, "POST", "/sobjects/ContentVersion", data=form(
        {"ContentDocumentId": link["ContentDocumentId"], "PathOnClient": "x.pdf"}, b"x"))
    sf_error(version_of_link, 400, "FIELD_INTEGRITY_EXCEPTION")


async def test_errors_are_salesforce_errors(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)
    path = "/sobjects/ContentVersion"
    missing = await sf(http, emu, "POST", path, data=form({"FirstPublishLocationId": record}, b"x"))
    assert sf_error(missing, 400, "REQUIRED_FIELD_MISSING")["fields"] == ["PathOnClient"]
    nowhere = await sf(http, emu, "POST", path, data=form({"PathOnClient": "a.pdf",
                                                           "FirstPublishLocationId": "0018d00000ZZZZZAAA"}, b"x"))
    assert sf_error(nowhere, 400, "INVALID_CROSS_REFERENCE_KEY")["fields"] == ["FirstPublishLocationId"]
    no_document = await sf(http, emu, "POST", path, data=form({"PathOnClient": "a.pdf",
                                                               "ContentDocumentId": "0698d0000000099AAA"}, b"x"))
    sf_error(no_document, 400, "INVALID_CROSS_REFERENCE_KEY")
    unknown = await sf(http, emu, "POST", path, data=form({"PathOnClient": "a.pdf", "Colour__c": "red"}, b"x"))
    assert "No such column 'Colour__c'" in sf_error(unknown, 400, "INVALID_FIELD")["message"]
    read_only = await sf(http, emu, "POST", path, data=form({"PathOnClient": "a.pdf", "Checksum": "0"}, b"x"))
    sf_error(read_only, 400, "INVALID_FIELD_FOR_INSERT_UPDATE")
    sf_error(await sf(http, emu, "POST", path, data=b"{not json", headers={"Content-Type": "application/json"}),
             400, "JSON_PARSER_ERROR")
    bad_part = aiohttp.FormData()
    bad_part.add_field("entity_content", "{nope", content_type="application/json")
    bad_part.add_field("VersionData", b"x", filename="a.pdf")
    sf_error(await sf(http, emu, "POST", path, data=bad_part), 400, "JSON_PARSER_ERROR")
    wrong_order = aiohttp.FormData()
    wrong_order.add_field("VersionData", b"x", filename="a.pdf")
    wrong_order.add_field("entity_content", json.dumps({"PathOnClient": "a.pdf"}), content_type="application/json")
    sf_error(await sf(http, emu, "POST", path, data=wrong_order), 400, "INVALID_MULTIPART_REQUEST")
    sf_error(await sf(http, emu, "GET", f"{path}/0688d0000000999AAA"), 404, "NOT_FOUND")
    sf_error(await sf(http, emu, "GET", "/sobjects/NoSuchThing/1/x/y"), 404, "NOT_FOUND")
    assert (await erp.admin("GET", "state"))["counts"]["content_versions"] == 0


async def test_a_bad_session_is_invalid_session_id(http: aiohttp.ClientSession) -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        refused = await sf(http, emu, "GET", "/sobjects/ContentVersion/0688d0000000001AAA",
                           headers={"Authorization": "Bearer expired"})
        sf_error(refused, 401, "INVALID_SESSION_ID")


async def test_deleting_a_document_deletes_every_version(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)
    first = (await sf(http, emu, "POST", "/sobjects/ContentVersion", data=form(
        {"PathOnClient": "a.pdf", "FirstPublishLocationId": record}, b"1"))).body["id"]
    document = (await sf(http, emu, "GET", f"/sobjects/ContentVersion/{first}")).body["ContentDocumentId"]
    second = (await sf(http, emu, "POST", "/sobjects/ContentVersion", data=form(
        {"PathOnClient": "a.pdf", "ContentDocumentId": document}, b"2"))).body["id"]
    deleted = await sf(http, emu, "DELETE", f"/sobjects/ContentDocument/{document}", key="del-1")
    assert deleted.status == 204
    replayed = await sf(http, emu, "DELETE", f"/sobjects/ContentDocument/{document}", key="del-1")
    assert (replayed.status, replayed.headers["Idempotent-Replayed"]) == (204, "true")
    for gone in (first, second):
        sf_error(await sf(http, emu, "GET", f"/sobjects/ContentVersion/{gone}"), 404, "NOT_FOUND")
    rows = await changes(http, emu, "content_versions")
    assert [(c["value"]["op"], c["key"]["Id"]) for c in rows][-2:] == [("d", first), ("d", second)]
    assert rows[-1]["value"]["after"] is None and rows[-1]["value"]["before"]["Id"] == second
    sf_error(await sf(http, emu, "DELETE", f"/sobjects/ContentDocument/{document}"), 404, "NOT_FOUND")


async def test_a_create_replayed_with_its_key_makes_one_file(erp: Erp) -> None:
    http, emu, record = erp.http, erp.emu, await account(erp)

    def body() -> aiohttp.FormData:
        return form({"PathOnClient": "a.pdf", "FirstPublishLocationId": record}, b"same bytes")

    first = await sf(http, emu, "POST", "/sobjects/ContentVersion", key="cv-1", data=body())
    again = await sf(http, emu, "POST", "/sobjects/ContentVersion", key="cv-1", data=body())
    assert (again.status, again.headers["Idempotent-Replayed"], again.body) == (201, "true", first.body)
    other = await sf(http, emu, "POST", "/sobjects/ContentVersion", key="cv-1", data=form(
        {"PathOnClient": "a.pdf", "FirstPublishLocationId": record}, b"other bytes"))
    sf_error(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await erp.admin("GET", "state"))["counts"]["content_versions"] == 1
