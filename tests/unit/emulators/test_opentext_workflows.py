"""Workflows on documents: discovery, draft process, initiate, direct start, status, admin completion,
the attachments folder of shortcuts and the status list (GET /v2/workflows/status)."""

from __future__ import annotations

from typing import Any

from xstream_emulators.opentext import RunningEmulator

from tests.unit.emulators.conftest import CONTRACT_APPROVAL, ENTERPRISE, INVOICE_APPROVAL, Api, login


async def test_draft_process_lifecycle_to_completion(api: Api) -> None:
    folder = await api.folder("Contracts")
    doc = await api.document(folder, "contract.pdf")
    maps = (await api.get("/v2/docworkflows", doc_id=str(doc), parent_id=str(folder))).body["results"]
    assert maps["data"] == [{"DataID": CONTRACT_APPROVAL, "Name": "Contract Approval", "WorkflowType": 100},
                            {"DataID": INVOICE_APPROVAL, "Name": "Invoice Approval", "WorkflowType": 100}]
    reply = await api.body("POST", "/v2/draftprocesses",
                           {"workflow_id": CONTRACT_APPROVAL, "doc_ids": str(doc), "AttachDocuments": "true"})
    assert reply.status == 200
    draft = reply.body["results"]
    assert set(draft) == {"draftprocess_id", "workflow_type"}
    draft_id = draft["draftprocess_id"]
    reply = await api.body("PUT", f"/v2/draftprocesses/{draft_id}", {"action": "formUpdate", "values": {
        "WorkflowForm_Title": "Approve contract.pdf", "WorkflowForm_WorkflowDueDate": "2099-01-31"}})
    assert (reply.status, reply.body["results"]) == (200, {})
    reply = await api.body("PUT", f"/v2/draftprocesses/{draft_id}", {"action": "Initiate", "comment": "start"})
    started = reply.body["results"]
    assert started["custom_message"] == "Contract Approval was initiated successfully."
    process_id = started["process_id"]
    assert (await api.body("PUT", f"/v2/draftprocesses/{draft_id}", {"action": "Initiate"})).status == 400

    status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
    assert (status["wf_details"]["status"], status["wf_details"]["wf_name"]) == ("ontime", "Approve contract.pdf")
    assert status["wf_details"]["initiator"]["loginName"] == "Admin"
    assert [t["task_name"] for t in status["step_list"]["current"]] == ["Review"]
    assert [t["task_name"] for t in status["step_list"]["next"]] == ["Approve"]

    assert (await api.admin("POST", f"workflows/{process_id}/advance"))["status"] == "ontime"
    status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
    assert [t["task_name"] for t in status["step_list"]["completed"]] == ["Review"]
    assert [t["task_name"] for t in status["step_list"]["current"]] == ["Approve"]
    assert (await api.admin("POST", f"workflows/{process_id}/complete"))["status"] == "completed"
    status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
    assert status["wf_details"]["status"] == "completed" and status["step_list"]["current"] == []
    assert (await api.admin("POST", f"workflows/{process_id}/complete"))["error"]  # already finished

    audit = (await api.get(f"/v2/nodes/{doc}/audit")).body["results"]["data"]["audit"]
    assert [e["audit_name"] for e in audit][:2] == ["Workflow Completed", "Workflow Initiated"]
    (listed,) = (await api.admin("GET", "state"))["workflows"]
    assert (listed["process_id"], listed["doc_ids"], listed["status"]) == (process_id, [doc], "completed")


async def test_startwf_only_for_maps_without_a_start_step(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "invoice.pdf")
    reply = await api.body("POST", "/v2/draftprocesses/startwf", {"workflow_id": INVOICE_APPROVAL, "doc_ids": str(doc)})
    assert reply.status == 200
    assert reply.body["custom_message"] == "Invoice Approval was initiated successfully."
    process_id = reply.body["process_id"]
    reply = await api.body("POST", "/v2/draftprocesses/startwf", {"workflow_id": CONTRACT_APPROVAL})
    assert reply.status == 400 and "disabled start step" in reply.body["error"]
    assert (await api.admin("POST", f"workflows/{process_id}/reject"))["status"] == "stopped"
    status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
    assert status["wf_details"]["status"] == "stopped"


async def test_late_workflows_and_errors(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "late.pdf")
    draft = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL, "doc_ids": [doc],
                                                            "AttachDocuments": "true"})).body["results"]
    await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {
        "action": "formUpdate", "values": {"WorkflowForm_WorkflowDueDate": "2000-01-01"}})
    started = await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {"action": "initiate"})
    status = (await api.get(f"/v2/workflows/status/processes/{started.body['results']['process_id']}")).body
    assert status["results"]["wf_details"]["status"] == "workflowlate"
    for payload, fragment in [({}, "workflow_id"), ({"workflow_id": 1}, "Could not get a node"),
                              ({"workflow_id": CONTRACT_APPROVAL, "doc_ids": "424242"}, "Error getting node")]:
        reply = await api.body("POST", "/v2/draftprocesses", payload)
        assert reply.status == 400 and fragment in reply.body["error"]
    fresh = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL})).body["results"]
    reply = await api.body("PUT", f"/v2/draftprocesses/{fresh['draftprocess_id']}", {"action": "dance"})
    assert reply.status == 400 and "unknown" in reply.body["error"]
    assert (await api.get("/v2/workflows/status/processes/424242")).status == 400
    assert (await api.get("/v2/docworkflows")).status == 400


async def test_attachments_are_shortcuts_in_the_attachments_folder(api: Api) -> None:
    first, second = await api.folder("One"), await api.folder("Two")
    docs = [await api.document(first, "contract.pdf"), await api.document(second, "contract.pdf")]
    process_id = await start(api, CONTRACT_APPROVAL, ",".join(map(str, docs)))
    status = (await api.get(f"/v2/workflows/status/processes/{process_id}")).body["results"]
    folder_id = status["attachments"]["attachment_folder_id"]
    assert status["data_packages"][0]["USERDATA"] == folder_id
    folder = (await api.get(f"/v2/nodes/{folder_id}")).body["results"]["data"]["properties"]
    assert (folder["type"], folder["type_name"], folder["container"], folder["size"]) == (
        154, "Workflow Attachments", True, 2)
    children = (await api.get(f"/v2/nodes/{folder_id}/nodes", where_type="1")).body["results"]
    shortcuts = [c["data"]["properties"] for c in children]
    assert [(s["name"], s["type"], s["type_name"], s["original_id"], s["parent_id"]) for s in shortcuts] == [
        ("contract.pdf", 1, "Shortcut", docs[0], folder_id),
        (f"contract.pdf ({docs[1]})", 1, "Shortcut", docs[1], folder_id)]
    one = (await api.get(f"/v2/nodes/{shortcuts[0]['id']}")).body["results"]["data"]["properties"]
    assert (one["original_id"], one["container"]) == (docs[0], False)
    assert (await api.get(f"/v2/nodes/{docs[0]}")).body["results"]["data"]["properties"]["original_id"] == 0

    assert (await api.call("DELETE", f"/v2/nodes/{docs[1]}")).status == 200  # its shortcut goes with it
    left = (await api.get(f"/v2/nodes/{folder_id}/nodes")).body["results"]
    assert [c["data"]["properties"]["original_id"] for c in left] == [docs[0]]
    (listed,) = (await api.admin("GET", "state"))["workflows"]
    assert listed["attachment_folder_id"] == folder_id

    bare = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL})).body["results"]
    started = await api.body("PUT", f"/v2/draftprocesses/{bare['draftprocess_id']}", {"action": "Initiate"})
    empty = (await api.get(f"/v2/workflows/status/processes/{started.body['results']['process_id']}")).body
    empty_id = empty["results"]["attachments"]["attachment_folder_id"]
    assert (await api.get(f"/v2/nodes/{empty_id}/nodes")).body["results"] == []


async def start(api: Api, workflow_id: int, doc_ids: str, **values: str) -> int:
    draft = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": workflow_id, "doc_ids": doc_ids,
                                                            "AttachDocuments": "true"})).body["results"]
    if values:
        await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}",
                       {"action": "formUpdate", "values": values})
    started = await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {"action": "Initiate"})
    return int(started.body["results"]["process_id"])


async def listed(api: Api, **params: str) -> list[dict[str, Any]]:
    reply = await api.get("/v2/workflows/status", **params)
    assert reply.status == 200, reply.body
    return [r["data"]["wfstatus"] for r in reply.body["results"]]


async def test_the_status_list_of_the_callers_processes(api: Api, emulator: RunningEmulator) -> None:
    doc = await api.document(ENTERPRISE, "listed.pdf")
    running = await start(api, CONTRACT_APPROVAL, str(doc), WorkflowForm_Title="B running",
                          WorkflowForm_WorkflowDueDate="2099-01-31")
    late = await start(api, CONTRACT_APPROVAL, str(doc), WorkflowForm_Title="D late",
                       WorkflowForm_WorkflowDueDate="2000-01-01")
    completed = await start(api, CONTRACT_APPROVAL, str(doc), WorkflowForm_Title="A completed")
    stopped = await start(api, CONTRACT_APPROVAL, str(doc), WorkflowForm_Title="C stopped")
    await api.admin("POST", f"workflows/{completed}/complete")
    await api.admin("POST", f"workflows/{stopped}/stop")
    other = Api(api.http, emulator, await login(api.http, emulator, "jdoe", "pw"))
    theirs = await start(other, CONTRACT_APPROVAL, str(doc))

    everything = await listed(api)
    assert [e["process_id"] for e in everything] == [stopped, completed, late, running]  # newest first
    assert {e["status_key"] for e in everything} == {"ontime", "workflowlate", "completed", "stopped"}
    for entry in everything:
        details = (await api.get(f"/v2/workflows/status/processes/{entry['process_id']}")).body["results"]["wf_details"]
        assert entry["status_key"] == details["status"] and entry["wf_name"] == details["wf_name"]
    for wstatus, expected in (("ontime", running), ("workflowlate", late), ("completed", completed),
                              ("stopped", stopped)):
        assert [e["process_id"] for e in await listed(api, wstatus=wstatus)] == [expected]
    assert [e["process_id"] for e in await listed(other)] == [theirs]
    for kind in ({"Kind": "Initiated"}, {"kind": "Managed"}, {"Kind": "Both"}):
        assert len(await listed(api, **kind)) == 4
    assert [e["wf_name"] for e in await listed(api, sort="wf_name asc")] == [
        "A completed", "B running", "C stopped", "D late"]
    assert [e["process_id"] for e in await listed(api, sort="due_date desc")][:2] == [running, late]

    current = next(e for e in everything if e["process_id"] == running)
    assert {k: current[k] for k in ("subprocess_id", "task_id", "step_name", "steps_count", "assignee_count",
                                    "current_assignee", "comments_on", "due_date")} == {
        "subprocess_id": running, "task_id": 1, "step_name": "Review", "steps_count": 1, "assignee_count": 1,
        "current_assignee": "Admin", "comments_on": True, "due_date": "2099-01-31"}
    assert current["assignee"][0]["loginName"] == "Admin"
    assert [t["task_name"] for t in current["parallel_steps"]] == ["Review"]
    done = next(e for e in everything if e["process_id"] == completed)
    assert (done["step_name"], done["task_id"], done["steps_count"], done["assignee"], done["parallel_steps"]) == (
        "Approve", 2, 0, [], [])
    reply = await api.get("/v2/workflows/status")
    entry = reply.body["results"][0]
    assert entry["definitions_order"]["wfstatus"] == ["status_key", "due_date", "wf_name", "step_name", "assignee",
                                                      "date_initiated"]
    assert entry["definitions"]["wfstatus"]["due_date"]["type_name"] == "Date"
    assert entry["permissions"]["SeeDetail"] is True

    finished = {w["process_id"]: w["finished_date"] for w in (await api.admin("GET", "state"))["workflows"]}
    assert finished[running] is None and finished[completed] and finished[stopped]
    assert len(await listed(api, wfretention="0")) == 4  # finished today
    real_clock = emulator.state.clock
    emulator.state.clock = lambda: real_clock() + 10 * 86400
    assert [e["process_id"] for e in await listed(api, wfretention="7")] == [late, running]
    assert len(await listed(api, wfretention="10")) == 4
    for bad in ({"wstatus": "late"}, {"Kind": "Mine"}, {"sort": "name asc"}, {"sort": "wf_name up"},
                {"wfretention": "-1"}, {"wfretention": "week"}):
        reply = await api.get("/v2/workflows/status", **bad)
        assert reply.status == 400 and "Invalid value" in reply.body["error"], bad
