"""Version lock and unlock, version update and delete, promote, version metadata and copy link of the
OpenText emulator (over real HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.unit.emulators.conftest import ENTERPRISE, Api, login

INVALID_DELETE = "Could not process object, invalid action 'versions-delete'"
GETTING_VERSION = "Error getting version for node"


async def add_version(api: Api, doc: int, data: bytes, **fields: str) -> Any:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="Contract.pdf", content_type="application/pdf")
    for key, value in fields.items():
        form.add_field(key, value)
    reply = await api.call("POST", f"/v2/nodes/{doc}/versions", data=form)
    assert reply.status == 200, reply.body
    return reply.body["results"]["data"]["versions"]


async def versions(api: Api, doc: int) -> list[dict[str, Any]]:
    return [r["data"]["versions"] for r in (await api.get(f"/v2/nodes/{doc}/versions")).body["results"]]


def version_of(reply: Any) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    return dict(reply.body["results"]["data"]["versions"])


@pytest.fixture
async def doc(api: Api) -> int:
    node = await api.document(ENTERPRISE, "Contract.pdf", b"version one")
    await add_version(api, node, b"version two")
    return node


async def test_a_locked_version_cannot_be_deleted_or_modified_until_unlocked(api: Api, doc: int) -> None:
    locked = version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/1/lock"))
    assert (locked["version_number"], locked["locked"], locked["locked_user_id"]) == (1, 1, 1000)
    assert locked["locked_date"].endswith("Z")
    listed = await versions(api, doc)
    assert [(v["version_number"], v["locked"]) for v in listed] == [(1, 1), (2, 0)]
    refused = await api.call("DELETE", f"/v2/nodes/{doc}/versions/1")
    assert (refused.status, refused.body["error"]) == (400, INVALID_DELETE)
    edit = await api.call("PUT", f"/v2/nodes/{doc}/versions/1", data={"description": "changed"})
    assert (edit.status, edit.body["error"]) == (400, "Could not process object, invalid action 'versions-update'")
    # the rest of the node stays open: a new version, a new name
    assert (await add_version(api, doc, b"version three"))["version_number"] == 3
    assert (await api.body("PUT", f"/v2/nodes/{doc}", {"name": "Contract (signed).pdf"})).status == 200
    assert (await api.get(f"/v2/nodes/{doc}/versions/1/content")).raw == b"version one"
    unlocked = version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/1/unlock"))
    assert (unlocked["locked"], unlocked["locked_date"], unlocked["locked_user_id"]) == (0, None, None)
    assert (await api.call("PUT", f"/v2/nodes/{doc}/versions/1", data={"description": "old"})).status == 200
    assert (await api.call("DELETE", f"/v2/nodes/{doc}/versions/1")).status == 200
    assert [v["version_number"] for v in await versions(api, doc)] == [2, 3]
    assert (await add_version(api, doc, b"four"))["version_number"] == 4  # numbers are never reused
    assert (await api.get(f"/v2/nodes/{doc}/versions/1")).status == 400
    state = (await api.admin("GET", "state"))["documents"][0]["versions"]
    assert [(v["version_number"], v["locked"]) for v in state] == [(2, False), (3, False), (4, False)]


async def test_lock_and_unlock_are_idempotent(api: Api, doc: int, emulator: RunningEmulator) -> None:
    first = version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/2/lock"))
    emulator.state.clock = lambda: 2_000_000_000.0
    again = version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/2/lock"))
    assert again["locked_date"] == first["locked_date"]  # the first lock stands
    assert version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/1/unlock"))["locked"] == 0


async def test_the_current_version_cannot_be_deleted(api: Api, doc: int) -> None:
    reply = await api.call("DELETE", f"/v2/nodes/{doc}/versions/2")
    assert (reply.status, reply.body["error"]) == (400, INVALID_DELETE)
    missing = await api.call("DELETE", f"/v2/nodes/{doc}/versions/9")
    assert (missing.status, missing.body["error"]) == (400, GETTING_VERSION)


@pytest.mark.parametrize("action", ["lock", "unlock", "promote"])
async def test_unknown_versions_and_nodes_are_refused(api: Api, doc: int, action: str) -> None:
    reply = await api.call("POST", f"/v2/nodes/{doc}/versions/7/{action}")
    assert (reply.status, reply.body["error"]) == (500, GETTING_VERSION)
    folder = await api.folder("No versions")
    assert (await api.call("POST", f"/v2/nodes/{folder}/versions/1/{action}")).status == 500
    unknown = await api.call("POST", f"/v2/nodes/999999/versions/1/{action}")
    assert unknown.status == 500 and "could not be accessed" in unknown.body["error"]


async def test_promote_needs_advanced_versioning(api: Api, doc: int) -> None:
    reply = await api.call("POST", f"/v2/nodes/{doc}/versions/1/promote")
    assert (reply.status, reply.body["error"]) == (
        500, "You cannot promote a version for Contract.pdf which is using standard versioning")
    advanced = await api.document(ENTERPRISE, "Policy.pdf", b"draft one", advanced_versioning=True)
    await add_version(api, advanced, b"draft two")
    listed = await versions(api, advanced)
    assert [(v["version_major_number"], v["version_minor_number"]) for v in listed] == [(0, 1), (0, 2)]
    promoted = version_of(await api.call("POST", f"/v2/nodes/{advanced}/versions/1/promote",
                                         data={"description": "approved"}))
    assert (promoted["version_number"], promoted["version_major_number"], promoted["version_minor_number"],
            promoted["description"]) == (3, 1, 0, "approved")
    assert (await api.get(f"/v2/nodes/{advanced}/content")).raw == b"draft one"
    audit = [e["audit_name"] for e in (await api.admin("GET", "audit")) if e["id"] == advanced]
    assert audit.count("Add Version") == 2


async def test_a_major_version_switches_a_document_to_advanced_versioning(api: Api, doc: int) -> None:
    major = await add_version(api, doc, b"approved", add_major_version="true")
    assert (major["version_major_number"], major["version_minor_number"]) == (1, 0)
    assert version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/3/promote"))["version_major_number"] == 2


async def test_version_metadata_has_what_the_spec_names_and_no_checksum(api: Api, doc: int) -> None:
    [one, two] = await versions(api, doc)
    for key in ("version_number", "file_name", "file_size", "mime_type", "file_create_date", "locked", "locked_date",
                "locked_user_id", "version_major_number", "version_minor_number"):
        assert key in two
    assert (two["version_number"], two["file_name"], two["file_size"], two["mime_type"]) == (
        2, "Contract.pdf", len(b"version two"), "application/pdf")
    assert not [k for k in two if any(word in k for word in ("sha", "hash", "checksum", "md5", "digest"))]
    single = (await api.get(f"/v2/nodes/{doc}/versions/1")).body["results"]["data"]["versions"]
    assert single == one


async def test_copy_link_is_the_nodes_address_for_users(api: Api, doc: int) -> None:
    reply = await api.get(f"/v2/nodes/{doc}/copylink")
    assert reply.status == 200
    assert reply.body["results"] == {"link": f"{api.emu.url}/app/nodes/{doc}"}
    missing = await api.get("/v2/nodes/999999/copylink")
    assert missing.status == 404 and "could not be accessed" in missing.body["error"]


async def test_copy_link_uses_the_configured_public_url(http: aiohttp.ClientSession) -> None:
    config = OpenTextEmulatorConfig(public_url="https://ecm.example.com/", base_path="/cs/cs")
    async with await start_opentext_emulator(config) as emu:
        api = Api(http, emu, await login(http, emu))
        link = (await api.get(f"/v2/nodes/{ENTERPRISE}/copylink")).body["results"]["link"]
    assert link == f"https://ecm.example.com/cs/cs/app/nodes/{ENTERPRISE}"


async def test_locks_survive_a_restart(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    config = OpenTextEmulatorConfig(db_path=tmp_path / "otcs.sqlite")
    async with await start_opentext_emulator(config) as emu:
        api = Api(http, emu, await login(http, emu))
        doc = await api.document(ENTERPRISE, "Kept.pdf", b"one", advanced_versioning=True)
        await api.call("POST", f"/v2/nodes/{doc}/versions/1/lock")
    async with await start_opentext_emulator(config) as emu:
        api = Api(http, emu, await login(http, emu))
        [version] = await versions(api, doc)
        assert (version["locked"], version["locked_user_id"]) == (1, 1000)
        assert version_of(await api.call("POST", f"/v2/nodes/{doc}/versions/1/promote"))["version_number"] == 2


async def test_new_operations_are_counted_and_their_answers_can_be_lost(api: Api, doc: int) -> None:
    await api.admin("POST", "faults", json={"lost_answer_rate": 1.0, "operations": ["versions.lock"]})
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("POST", f"/v2/nodes/{doc}/versions/1/lock")
    await api.admin("POST", "faults", json={})
    assert [v["locked"] for v in await versions(api, doc)] == [1, 0]  # the lock happened
    await api.call("POST", f"/v2/nodes/{doc}/versions/1/unlock")
    await api.get(f"/v2/nodes/{doc}/copylink")
    calls = await api.admin("GET", "calls")
    assert (calls["versions.lock"], calls["versions.unlock"], calls["nodes.copylink"]) == (1, 1, 1)
