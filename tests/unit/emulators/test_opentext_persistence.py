"""With ``db_path`` the emulator keeps its state across a restart (content stays in ``content_dir``)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.unit.emulators.conftest import CONTRACT_APPROVAL, CUSTOMER_CATEGORY, DOCUMENT_CATEGORY, Api, login

CAT = CUSTOMER_CATEGORY


async def start(db: Path) -> RunningEmulator:
    return await start_opentext_emulator(OpenTextEmulatorConfig(db_path=db, users={"Admin": "livelink",
                                                                                    "jdoe": "pw"}))


async def test_a_restart_with_the_same_file_keeps_everything(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    db = tmp_path / "otcs.sqlite"
    emu = await start(db)
    try:
        api = Api(http, emu, await login(http, emu))
        ws = await api.workspace("Kept Co", bo_id="77", roles={"categories": {str(CAT): {f"{CAT}_2": "K-77"}}})
        other = await api.workspace("Related Co", bo_id="78")
        await api.call("POST", f"/v2/businessworkspaces/{ws}/relateditems", data={"rel_bw_id": str(other)})
        roles = (await api.get(f"/v2/businessworkspaces/{ws}/roles")).body["results"]
        role_id = roles[0]["data"]["properties"]["id"]
        await api.call("POST", f"/v2/businessworkspaces/{ws}/roles/{role_id}/members", data={"id": "1001"})
        folder = await api.folder("Kept folder", parent_id=ws)
        doc = await api.document(folder, "kept.pdf", b"version one",
                                 roles={"categories": {f"{DOCUMENT_CATEGORY}_2": "Contract"}})
        form = aiohttp.FormData()
        form.add_field("file", b"version two", filename="kept.pdf", content_type="application/pdf")
        assert (await api.call("POST", f"/v2/nodes/{doc}/versions", data=form)).status == 200
        gone = await api.document(folder, "gone.pdf")
        assert (await api.call("DELETE", f"/v2/nodes/{gone}")).status == 200
        draft = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL, "doc_ids": str(doc),
                                                                "AttachDocuments": "true"})).body["results"]
        started = await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {"action": "Initiate"})
        process_id = started.body["results"]["process_id"]
        await api.admin("POST", f"workflows/{process_id}/advance")
        before = await api.admin("GET", "state")
        audit_before = (await api.get(f"/v2/nodes/{doc}/audit")).body["results"]["data"]["audit"]
    finally:
        await emu.stop()
    assert db.exists() and (tmp_path / "otcs-content").is_dir()

    emu = await start(db)
    try:
        api = Api(http, emu, await login(http, emu))
        after = await api.admin("GET", "state")
        assert {k: after[k] for k in ("workspaces", "folders", "documents", "workflows")} == {
            k: before[k] for k in ("workspaces", "folders", "documents", "workflows")}
        assert (await api.get(f"/v2/nodes/{doc}/content")).raw == b"version two"
        assert (await api.get(f"/v2/nodes/{doc}/versions/1/content")).raw == b"version one"
        assert (await api.get(f"/v2/nodes/{doc}/audit")).body["results"]["data"]["audit"] == audit_before
        assert (await api.get(f"/v2/nodes/{gone}")).status == 400
        found = await api.get("/v2/businessworkspaces", where_bo_id="77", expanded_view="true")
        assert [r["data"]["properties"]["id"] for r in found.body["results"]] == [ws]
        related = await api.get(f"/v2/businessworkspaces/{other}/relateditems")
        assert [(r["data"]["properties"]["id"], r["data"]["properties"]["rel_type"])
                for r in related.body["results"]] == [(ws, "parent")]
        members = await api.get(f"/v2/businessworkspaces/{ws}/roles/{role_id}/members")
        assert [m["data"]["properties"]["id"] for m in members.body["results"]] == [1001]
        status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
        assert [t["task_name"] for t in status["step_list"]["completed"]] == ["Review"]
        duplicate = await api.body("POST", "/v2/businessworkspaces", {"template_id": 2011, "name": "Again",
                                                                       "ext_system_id": "SAP", "bo_type": "KNA1",
                                                                       "bo_id": "77"})
        assert duplicate.status == 400  # the business object index came back too
        newer = await api.folder("After restart")
        assert newer > max(d["id"] for d in before["documents"])  # ids keep counting
        await api.admin("POST", "reset")
    finally:
        await emu.stop()

    emu = await start(db)
    try:
        assert (await Api(http, emu, await login(http, emu)).admin("GET", "state"))["workspaces"] == []
    finally:
        await emu.stop()


async def test_attachments_and_finished_processes_survive_a_restart(http: aiohttp.ClientSession,
                                                                     tmp_path: Path) -> None:
    db = tmp_path / "wf.sqlite"
    emu = await start(db)
    try:
        api = Api(http, emu, await login(http, emu))
        doc = await api.document(2000, "attached.pdf")
        draft = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL, "doc_ids": str(doc),
                                                                "AttachDocuments": "true"})).body["results"]
        started = await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {"action": "Initiate"})
        process_id = started.body["results"]["process_id"]
        await api.admin("POST", f"workflows/{process_id}/complete")
        folder = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]["attachments"]
        before = (await api.get(f"/v2/nodes/{folder['attachment_folder_id']}/nodes")).body["results"]
        listed_before = (await api.get("/v2/workflows/status", wstatus="completed", wfretention="1")).body["results"]
    finally:
        await emu.stop()
    emu = await start(db)
    try:
        api = Api(http, emu, await login(http, emu))
        after = (await api.get(f"/v2/nodes/{folder['attachment_folder_id']}/nodes")).body["results"]
        assert [r["data"]["properties"] for r in after] == [r["data"]["properties"] for r in before]
        assert after[0]["data"]["properties"]["original_id"] == doc
        listed = (await api.get("/v2/workflows/status", wstatus="completed", wfretention="1")).body["results"]
        assert [r["data"] for r in listed] == [r["data"] for r in listed_before] and len(listed) == 1
    finally:
        await emu.stop()


async def test_without_a_database_nothing_is_kept(http: aiohttp.ClientSession) -> None:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig())
    content_root = emu.state.content.root
    try:
        api = Api(http, emu, await login(http, emu))
        await api.document(2000, "temp.pdf")
        assert any(content_root.rglob("*"))
    finally:
        await emu.stop()
    assert not content_root.exists()  # the temporary content directory is removed
