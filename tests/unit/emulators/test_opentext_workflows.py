"""Workflows on documents: discovery, draft process, initiate, direct start, status, admin completion."""

from __future__ import annotations

from tests.unit.emulators.conftest import CONTRACT_APPROVAL, ENTERPRISE, INVOICE_APPROVAL, Api


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
