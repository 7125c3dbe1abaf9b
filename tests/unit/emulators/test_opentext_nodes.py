"""Folders, documents, versions, content and browsing of the OpenText emulator (over real HTTP)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.unit.emulators.conftest import DOCUMENT_CATEGORY, ENTERPRISE, Api

# --- folders and documents --------------------------------------------------------------------


async def test_folder_create_and_unique_names_per_parent(api: Api) -> None:
    folder = await api.folder("Invoices")
    reply = await api.body("POST", "/v2/nodes", {"type": 0, "parent_id": ENTERPRISE, "name": "Invoices"})
    assert (reply.status, reply.body) == (500, {"error": "An item with the name 'Invoices' already exists."})
    other = await api.folder("Other")
    assert await api.folder("Invoices", parent_id=other) != folder  # the same name under another parent is fine
    props = (await api.get(f"/v2/nodes/{folder}")).body["results"]["data"]["properties"]
    assert (props["type"], props["type_name"], props["container"], props["parent_id"]) == (0, "Folder", True, ENTERPRISE)


@pytest.mark.parametrize("encoding", ["body", "flat", "raw json"])
async def test_folder_create_accepts_every_encoding(api: Api, encoding: str) -> None:
    fields = {"type": 0, "parent_id": ENTERPRISE, "name": f"Via {encoding}"}
    if encoding == "body":
        reply = await api.body("POST", "/v2/nodes", fields)
    elif encoding == "flat":
        reply = await api.call("POST", "/v2/nodes", data={k: str(v) for k, v in fields.items()})
    else:
        reply = await api.call("POST", "/v2/nodes", json=fields)
    assert reply.status == 200, reply.body
    assert reply.body["results"]["data"]["properties"]["name"] == f"Via {encoding}"


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"parent_id": ENTERPRISE, "name": "x"}, 400, "Missing required parameter 'type'"),
        ({"type": 0, "name": "x"}, 400, "Missing required parameter 'parent_id'"),
        ({"type": 0, "parent_id": ENTERPRISE}, 400, "Missing required parameter 'name'"),
        ({"type": 0, "parent_id": "abc", "name": "x"}, 400, "parent_id"),
        ({"type": 0, "parent_id": 424242, "name": "x"}, 400, "could not be accessed"),
        ({"type": 31337, "parent_id": ENTERPRISE, "name": "x"}, 400, "Subtype 31337 not registered"),
        ({"type": 144, "parent_id": ENTERPRISE, "name": "no file"}, 400, "Missing required parameter 'file'"),
    ],
)
async def test_bad_node_creates_are_answered_not_crashed(api: Api, payload, status, fragment) -> None:
    reply = await api.body("POST", "/v2/nodes", payload)
    assert reply.status == status and fragment in reply.body["error"]


async def test_document_upload_with_body_and_flat_fields_and_categories(api: Api) -> None:
    folder = await api.folder("Docs")
    cat = DOCUMENT_CATEGORY
    reply = await api.upload(folder, "INV-1.pdf", b"%PDF-1.4 one",
                             roles={"categories": {f"{cat}_2": "Invoice", f"{cat}_3": "Draft"}})
    props = reply.body["results"]["data"]["properties"]
    assert (props["type"], props["mime_type"], props["size"], props["container"]) == (144, "application/pdf", 12, False)
    flat = aiohttp.FormData()
    for key, value in {"type": "144", "parent_id": str(folder), "name": "notes.txt"}.items():
        flat.add_field(key, value)
    flat.add_field("file", b"hello", filename="notes.txt", content_type="application/octet-stream")
    reply = await api.call("POST", "/v2/nodes", data=flat)
    assert reply.status == 200
    assert reply.body["results"]["data"]["properties"]["mime_type"] == "text/plain"  # guessed from the name
    categories = (await api.get(f"/v2/nodes/{props['id']}/categories")).body["results"]
    assert categories[0]["data"]["categories"] == {f"{cat}_2": "Invoice", f"{cat}_3": "Draft", f"{cat}_4": None, f"{cat}_5": None, f"{cat}_6": None}
    again = await api.upload(folder, "INV-1.pdf", b"other")
    assert (again.status, again.body) == (500, {"error": "An item with the name 'INV-1.pdf' already exists."})
    docs = (await api.admin("GET", "state"))["documents"]
    assert [(d["name"], len(d["versions"])) for d in docs] == [("INV-1.pdf", 1), ("notes.txt", 1)]
    assert not list((api.emu.state.content.root / "incoming").iterdir())  # the refused upload left no file


async def test_document_categories_must_be_a_flat_map(api: Api) -> None:
    reply = await api.upload(ENTERPRISE, "x.pdf", b"x", roles={"categories": {str(DOCUMENT_CATEGORY): {"a": 1}}})
    assert reply.status == 400 and "flat" in reply.body["error"]
    reply = await api.upload(ENTERPRISE, "y.pdf", b"y", roles={"categories": {f"{DOCUMENT_CATEGORY}_99": 1}})
    assert reply.status == 400 and "non-matching attribute" in reply.body["error"]


async def test_name_validation_lists_only_taken_names(api: Api) -> None:
    folder = await api.folder("Check")
    doc = await api.document(folder, "a.pdf")
    reply = await api.body("POST", "/v1/validation/nodes/names", {"parent_id": folder, "names": ["a.pdf", "b.pdf"]})
    assert reply.body == {"results": [{"name": "a.pdf", "id": doc}]}
    reply = await api.call("POST", "/v1/validation/nodes/names",
                           data=json.dumps({"parent_id": folder, "names": ["b.pdf"]}),
                           headers={"Content-Type": "text/plain"})
    assert reply.body == {"results": []}
    reply = await api.body("POST", "/v1/validation/nodes/names", {"names": ["a.pdf"]})
    assert reply.status == 400 and "parent_id" in reply.body["error"]


# --- versions and content ---------------------------------------------------------------------


async def add_version(api: Api, node_id: int, data: bytes, filename: str = "v.pdf", **fields: str):
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", data, filename=filename, content_type="application/pdf")
    return await api.call("POST", f"/v2/nodes/{node_id}/versions", data=form)


async def test_versions_and_content_round_trip(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "Contract.pdf", b"version one")
    reply = await add_version(api, doc, b"version two!", filename="Contract-v2.pdf", description="signed")
    assert reply.status == 200
    new = reply.body["results"]["data"]["versions"]
    assert (new["version_number"], new["file_size"], new["description"], new["file_name"]) == (
        2, 12, "signed", "Contract-v2.pdf")
    assert reply.body["results"]["data"]["properties"]["size"] == 12
    listed = (await api.get(f"/v2/nodes/{doc}/versions")).body["results"]
    assert [v["data"]["versions"]["version_number"] for v in listed] == [1, 2]
    assert "sha256" not in json.dumps(listed)  # the real API exposes no hash
    latest = (await api.get(f"/v1/nodes/{doc}/versions/latest")).body
    assert latest["data"]["version_number"] == 2
    for path, expected, filename in [
        (f"/v2/nodes/{doc}/content", b"version two!", "Contract-v2.pdf"),
        (f"/v1/nodes/{doc}/content", b"version two!", "Contract-v2.pdf"),
        (f"/v2/nodes/{doc}/versions/1/content", b"version one", "Contract.pdf"),
        (f"/v1/nodes/{doc}/versions/1/content", b"version one", "Contract.pdf"),
    ]:
        download = await api.get(path)
        assert download.status == 200 and download.raw == expected, path
        assert download.headers["Content-Type"] == "application/pdf"
        assert download.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        assert "OTCSTicket" in download.headers
    assert (await api.get(f"/v2/nodes/{doc}/versions/3/content")).status == 500
    assert (await api.get(f"/v2/nodes/{doc}/versions/3")).status == 400
    shas = [v["sha256"] for v in (await api.admin("GET", "state"))["documents"][0]["versions"]]
    assert shas == [hashlib.sha256(b"version one").hexdigest(), hashlib.sha256(b"version two!").hexdigest()]


async def test_non_ascii_file_names_get_an_rfc5987_disposition(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "Prüfbericht.pdf")
    header = (await api.get(f"/v2/nodes/{doc}/content")).headers["Content-Disposition"]
    assert header == "attachment; filename=\"Pr_fbericht.pdf\"; filename*=UTF-8''Pr%C3%BCfbericht.pdf"


async def test_major_versions_and_version_errors(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "Spec.pdf")
    reply = await add_version(api, doc, b"major", add_major_version="true")
    assert (reply.body["results"]["data"]["versions"]["version_number_major"],
            reply.body["results"]["data"]["versions"]["version_number_name"]) == (1, "1.0")
    reply = await api.call("POST", f"/v2/nodes/{doc}/versions", data={"description": "no file"})
    assert (reply.status, reply.body) == (400, {"error": "Missing required parameter 'File'"})
    folder = await api.folder("Not a document")
    reply = await add_version(api, folder, b"x")
    assert reply.status == 400 and "has no role 'versions'" in reply.body["error"]
    assert (await add_version(api, 424242, b"x")).status == 400


async def test_identical_content_is_stored_once(api: Api) -> None:
    first = await api.document(ENTERPRISE, "a.pdf", b"same bytes")
    await api.document(ENTERPRISE, "b.pdf", b"same bytes")
    await add_version(api, first, b"same bytes")
    blobs = [p for p in (api.emu.state.content.root / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1


SERVE = """
import asyncio
from xstream_emulators.opentext import OpenTextEmulatorConfig, start_opentext_emulator

async def main():
    emulator = await start_opentext_emulator(OpenTextEmulatorConfig())
    print(emulator.url, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the peak memory")
async def test_a_20_mb_upload_and_download_stream_without_buffering(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """An emulator in its own process takes and serves 20 MB without its peak memory growing by that much."""
    size, digest = 20 << 20, hashlib.sha256()
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(size >> 20):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVE, stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        url = (await asyncio.wait_for(server.stdout.readline(), 30)).decode().strip()
        api = Api(http, RunningEmulatorStub(url), await login_url(http, url))  # type: ignore[arg-type]
        await api.folder("warm-up")  # imports and first-request allocations happen before the baseline
        before = _peak_rss_kb(server.pid)
        with source.open("rb") as handle:
            form = aiohttp.FormData()
            form.add_field("body", json.dumps({"type": 144, "parent_id": ENTERPRISE, "name": "big.bin"}))
            form.add_field("file", handle, filename="big.bin", content_type="application/octet-stream")
            reply = await api.call("POST", "/v2/nodes", data=form)
        assert reply.status == 200 and reply.body["results"]["data"]["properties"]["size"] == size
        node_id = reply.body["results"]["data"]["properties"]["id"]
        downloaded = hashlib.sha256()
        async with http.get(f"{url}/api/v2/nodes/{node_id}/content", headers={"OTCSTicket": api.ticket}) as r:
            async for chunk in r.content.iter_chunked(1 << 20):
                downloaded.update(chunk)
        assert downloaded.hexdigest() == digest.hexdigest()
        assert _peak_rss_kb(server.pid) - before < 8 * 1024  # buffering would cost 20 MB or more
    finally:
        server.terminate()
        await server.wait()


@dataclass
class RunningEmulatorStub:
    url: str


async def login_url(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/api/v1/auth", data={"username": "Admin", "password": "livelink"}) as r:
        return str((await r.json())["ticket"])


# --- browsing, rename, move, delete -----------------------------------------------------------


async def test_children_filter_sort_and_page(api: Api) -> None:
    folder = await api.folder("Browse")
    for name in ("b-doc.pdf", "A-doc.pdf", "c-doc.pdf"):
        await api.document(folder, name)
    await api.folder("Zeta", parent_id=folder)
    await api.folder("alpha", parent_id=folder)

    async def names(**params: str) -> list[str]:
        reply = await api.get(f"/v2/nodes/{folder}/nodes", **params)
        assert reply.status == 200, reply.body
        return [r["data"]["properties"]["name"] for r in reply.body["results"]]

    assert await names() == ["A-doc.pdf", "alpha", "b-doc.pdf", "c-doc.pdf", "Zeta"]
    assert await names(sort="desc_name") == ["Zeta", "c-doc.pdf", "b-doc.pdf", "alpha", "A-doc.pdf"]
    assert await names(where_type="-1") == ["alpha", "Zeta"]
    assert await names(where_type="-3") == ["A-doc.pdf", "b-doc.pdf", "c-doc.pdf"]
    assert await names(where_type="144", where_name="DOC") == ["A-doc.pdf", "b-doc.pdf", "c-doc.pdf"]
    assert await names(where_name="alp") == ["alpha"]  # a substring match: clients compare names exactly
    page = await api.get(f"/v2/nodes/{folder}/nodes", limit="2", page="3")
    assert page.body["collection"]["paging"] == {"page": 3, "limit": 2, "page_total": 3, "range_min": 5,
                                                 "range_max": 5, "total_count": 5}
    assert page.body["collection"]["sorting"] == {"sort": [{"key": "sort", "value": "asc_name"}]}
    repeated = await api.call("GET", f"/v2/nodes/{folder}/nodes?where_type=0&where_type=144&limit=10")
    assert repeated.body["collection"]["paging"]["total_count"] == 5
    trimmed = await api.get(f"/v2/nodes/{folder}/nodes", fields="properties{id,name}", limit="1")
    assert set(trimmed.body["results"][0]["data"]["properties"]) == {"id", "name"}
    assert (await api.get(f"/v2/nodes/{folder}/nodes", sort="asc_colour")).status == 400
    assert (await api.get("/v2/nodes/424242/nodes")).status == 500


async def test_children_sorted_by_modify_date_show_changes(api: Api, emulator) -> None:
    clock = [1_800_000_000.0]
    emulator.state.clock = lambda: clock[0]
    folder = await api.folder("Feed")
    first = await api.document(folder, "first.pdf")
    clock[0] += 10
    await api.document(folder, "second.pdf")
    clock[0] += 10
    await add_version(api, first, b"changed")  # an update moves the document to the top
    reply = await api.get(f"/v2/nodes/{folder}/nodes", sort="desc_modify_date")
    rows = [r["data"]["properties"] for r in reply.body["results"]]
    assert [r["name"] for r in rows] == ["first.pdf", "second.pdf"]
    assert rows[0]["modify_date"] == "2027-01-15T08:00:20" and rows[1]["modify_date"] == "2027-01-15T08:00:10"


async def test_rename_move_and_delete(api: Api) -> None:
    source, target = await api.folder("Source"), await api.folder("Target")
    doc = await api.document(source, "draft.pdf")
    await api.document(target, "taken.pdf")
    reply = await api.body("PUT", f"/v2/nodes/{doc}", {"name": "final.pdf", "description": "done"})
    assert reply.status == 200 and reply.body["results"] == {}
    props = (await api.get(f"/v2/nodes/{doc}")).body["results"]["data"]["properties"]
    assert (props["name"], props["description"]) == ("final.pdf", "done")
    reply = await api.body("PUT", f"/v2/nodes/{doc}", {"parent_id": target, "name": "taken.pdf"})
    assert (reply.status, reply.body) == (500, {"error": "An item with the name 'taken.pdf' already exists."})
    assert (await api.body("PUT", f"/v2/nodes/{doc}", {"parent_id": target})).status == 200
    moved = (await api.get(f"/v2/nodes/{target}/nodes")).body["results"]
    assert [(r["data"]["properties"]["name"], r["data"]["properties"]["parent_id"]) for r in moved] == [
        ("final.pdf", target), ("taken.pdf", target)]
    assert (await api.get(f"/v2/nodes/{source}/nodes")).body["results"] == []
    assert (await api.body("PUT", f"/v2/nodes/{target}", {"parent_id": target})).status == 400  # into itself
    assert (await api.body("PUT", "/v2/nodes/2000", {"name": "Renamed"})).status == 400  # seed nodes stay
    reply = await api.call("DELETE", f"/v2/nodes/{target}")
    assert reply.status == 200 and reply.body["results"] == {}
    assert (await api.get(f"/v2/nodes/{doc}")).body == {"error": f"Could not get a node for {doc}"}
    assert (await api.call("DELETE", f"/v2/nodes/{target}")).status == 500
    assert (await api.admin("GET", "state"))["documents"] == []


async def test_node_metadata_token_guards_updates(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "guarded.pdf")
    token = (await api.call("GET", f"/v2/nodes/{doc}?state")).body["results"]["state"]["properties"]["metadata_token"]
    reply = await api.body("PUT", f"/v2/nodes/{doc}", {"name": "renamed.pdf", "metadata_token": token})
    assert reply.status == 200
    fresh = reply.body["results"]["state"]["properties"]["metadata_token"]
    assert fresh != token
    reply = await api.body("PUT", f"/v2/nodes/{doc}", {"name": "again.pdf", "metadata_token": token})
    assert (reply.status, reply.body) == (409, {"error": "Could not update metadata (edit conflict)."})


async def test_reserve_and_unreserve(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "reserve.pdf")
    await api.body("PUT", f"/v2/nodes/{doc}", {"reserved_user_id": 1000})
    props = (await api.get(f"/v2/nodes/{doc}")).body["results"]["data"]["properties"]
    assert (props["reserved"], props["reserved_user_id"]) == (True, 1000) and props["reserved_date"]
    await api.body("PUT", f"/v2/nodes/{doc}", {"reserved_user_id": None})
    props = (await api.get(f"/v2/nodes/{doc}")).body["results"]["data"]["properties"]
    assert (props["reserved"], props["reserved_user_id"], props["reserved_date"]) == (False, 0, None)


# --- audit ------------------------------------------------------------------------------------


async def test_audit_records_changes_and_filters_them(api: Api, emulator) -> None:
    clock = [1_800_000_000.0]  # 2027-01-15
    emulator.state.clock = lambda: clock[0]
    folder = await api.folder("Audited")
    doc = await api.document(folder, "a.pdf", roles={"categories": {f"{DOCUMENT_CATEGORY}_2": "Invoice"}})
    clock[0] += 86_400
    await add_version(api, doc, b"v2")
    await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOCUMENT_CATEGORY}", {f"{DOCUMENT_CATEGORY}_3": "Final"})
    clock[0] += 86_400
    await api.body("PUT", f"/v2/nodes/{doc}", {"name": "b.pdf"})
    other = await api.folder("Elsewhere")
    await api.body("PUT", f"/v2/nodes/{doc}", {"parent_id": other})

    async def events(**params: str) -> list[tuple[int, str]]:
        reply = await api.get(f"/v2/nodes/{doc}/audit", **params)
        assert reply.status == 200, reply.body
        return [(e["event_type"], e["audit_name"]) for e in reply.body["results"]["data"]["audit"]]

    assert await events() == [(6, "Move"), (7, "Rename"), (10, "Attribute Value Changed"), (4, "Add Version"),
                              (1, "Create")]
    assert await events(sort="asc_audit_date") == list(reversed(await events()))
    assert await events(where_type="10") == [(10, "Attribute Value Changed")]
    assert await events(where_audit_date_start="2027-01-16", where_audit_date_end="2027-01-16") == [
        (10, "Attribute Value Changed"), (4, "Add Version")]
    page = await api.get(f"/v2/nodes/{doc}/audit", limit="2", page="2")
    assert page.body["collection"]["paging"]["total_count"] == 5 and len(page.body["results"]["data"]["audit"]) == 2
    entry = page.body["results"]["data"]["audit"][0]
    assert entry["id"] == doc and entry["user_id"] == 1000 and entry["audit_date"].endswith("Z")
    assert (await api.get(f"/v2/nodes/{doc}/audit", where_audit_date_start="yesterday")).status == 400
    await api.call("DELETE", f"/v2/nodes/{doc}")
    assert (await api.get(f"/v2/nodes/{doc}/audit")).status == 400  # gone, like the node itself
    everything = await api.admin("GET", "audit")
    assert [e["audit_name"] for e in everything if e["id"] == doc][-1] == "Delete"


async def test_volumes_and_the_categories_volume(api: Api) -> None:
    categories = (await api.get("/v2/volumes/133")).body["results"]["data"]["properties"]
    assert (categories["id"], categories["type"], categories["name"]) == (2005, 133, "Content Server Categories")
    assert (await api.get("/v2/volumes/141")).body["results"]["data"]["properties"]["id"] == ENTERPRISE
    assert (await api.get("/v2/volumes/999")).status == 500
    listed = (await api.get("/v2/volumes")).body["results"]
    assert [r["data"]["properties"]["type"] for r in listed] == [133, 141]
    found = await api.get("/v2/nodes/2005/nodes", where_type="131", where_name="Document")
    assert [r["data"]["properties"]["id"] for r in found.body["results"]] == [DOCUMENT_CATEGORY]


async def test_calls_are_counted_under_one_operation_name_per_kind_of_call(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "counted.pdf")
    for path in (f"/v2/nodes/{doc}/content", f"/v1/nodes/{doc}/content", f"/v2/nodes/{doc}/versions/1/content",
                 f"/v1/nodes/{doc}/versions/1/content"):
        assert (await api.get(path)).status == 200
    ws = await api.workspace("Counted Co", bo_id="1")
    role = (await api.get(f"/v2/businessworkspaces/{ws}/roles")).body["results"][0]["data"]["properties"]["id"]
    await api.call("POST", f"/v2/businessworkspaces/{ws}/roles/{role}/members", data={"id": "1000"})
    await api.get(f"/v2/businessworkspaces/{ws}/members")
    await api.call("DELETE", f"/v2/businessworkspaces/{ws}/roles/{role}/members/1000")
    calls = await api.admin("GET", "calls")
    assert calls["content.get"] == 4 and calls["nodes.create"] == 1 and calls["workspaces.create"] == 1
    assert calls["workspaces.roles"] == 1 and calls["workspaces.members"] == 3
