"""Workflows on documents and the business-workspace extras, against the emulator."""

from __future__ import annotations

import pytest

from tests.unit.clients.support import BytesSource, admin
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest
from xstream.errors import SinkRejected, TargetNotFound

ENTERPRISE = 2000


def customer(bo_id: str, name: str) -> WorkspaceCreateRequest:
    return WorkspaceCreateRequest(template_id=2011, wksp_type_id=1, name=name,
                                  business_object=BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id=bo_id))


@pytest.fixture
async def document(client: OpenTextClient) -> tuple[int, int]:
    folder = await client.ensure_folder_path(ENTERPRISE, ["Contracts"])
    source = BytesSource(b"contract")
    result = await client.upsert_document(folder, "c.pdf", source.body("c.pdf"), size=source.size, sha256=source.sha256)
    return result.node_id, folder


async def test_start_a_workflow_on_a_document_and_follow_it(client: OpenTextClient, document, emulator) -> None:
    doc_id, folder = document
    maps = {w.name: w for w in await client.find_workflows(doc_id, folder)}
    assert {"Contract Approval", "Invoice Approval"} <= set(maps)
    process_id = await client.start_workflow(maps["Contract Approval"].id, [doc_id], title="Approve c.pdf",
                                             values={"WorkflowForm_WorkflowDueDate": "2030-01-31"})
    status = await client.workflow_status(process_id)
    assert (status.process_id, status.name, status.status, status.due_date) == (
        process_id, "Approve c.pdf", "ontime", "2030-01-31")
    assert [s.name for s in status.current] == ["Review"] and [s.name for s in status.next] == ["Approve"]
    assert status.initiator == "Admin" and status.current[0].assignees == ["Admin"] and not status.finished
    await admin(emulator, "POST", f"workflows/{process_id}/complete")
    done = await client.workflow_status(process_id)
    assert done.status == "completed" and done.finished and [s.name for s in done.completed] == ["Review", "Approve"]
    calls = await admin(emulator, "GET", "calls")
    assert calls["workflows.draft_create"] == 1 and calls["workflows.draft_update"] == 2


async def test_a_workflow_without_form_values_skips_the_form_update(client: OpenTextClient, document,
                                                                    emulator) -> None:
    doc_id, folder = document
    maps = {w.name: w.id for w in await client.find_workflows(doc_id, folder)}
    process_id = await client.start_workflow(maps["Invoice Approval"], [doc_id])
    assert (await client.workflow_status(process_id)).status == "ontime"
    assert (await admin(emulator, "GET", "calls"))["workflows.draft_update"] == 1


async def test_unknown_workflow_map_or_process_is_rejected(client: OpenTextClient, document) -> None:
    doc_id, _ = document
    with pytest.raises(SinkRejected):
        await client.start_workflow(doc_id, [doc_id])  # a document is no workflow map
    with pytest.raises(SinkRejected):
        await client.workflow_status(424242)


async def test_get_workspace_has_business_properties_references_and_categories(client: OpenTextClient) -> None:
    ws = (await client.ensure_workspace(customer("1", "Detail"))).node_id
    await client.update_categories(ws, {"Customer": {"Region": "EMEA"}})
    detail = await client.get_workspace(ws)
    assert (detail.node.id, detail.node.type, detail.node.workspace_type_id) == (ws, 848, 1)
    assert detail.business_properties["business_object_id"] == "1"
    assert detail.references == [BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id="1")]
    assert "EMEA" in detail.categories.values()
    extra = BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id="1b")
    await client.add_workspace_reference(ws, extra)
    assert extra in (await client.get_workspace(ws)).references
    found = await client.find_workspace(extra)
    assert found is not None and found.node_id == ws
    await client.remove_workspace_reference(ws, extra)
    assert await client.find_workspace(extra) is None
    with pytest.raises(TargetNotFound):
        await client.get_workspace(ENTERPRISE)


async def test_bulk_upsert_creates_and_updates_by_business_object(client: OpenTextClient) -> None:
    first = await client.bulk_upsert_workspaces([customer("10", "Bulk 10"), customer("11", "Bulk 11")])
    assert all(item.ok for item in first) and len({item.id for item in first}) == 2
    again = await client.bulk_upsert_workspaces([customer("10", "Bulk 10 renamed")])
    assert [item.id for item in again] == [first[0].id]
    assert (await client.get_node(first[0].id or 0)).name == "Bulk 10 renamed"


async def test_related_workspaces_roles_and_members(client: OpenTextClient) -> None:
    parent = (await client.ensure_workspace(customer("20", "Parent"))).node_id
    child = (await client.ensure_workspace(customer("21", "Child"))).node_id
    await client.add_related_workspace(parent, child, rel_type="child")
    assert [(r.node_id, r.rel_type) for r in await client.related_workspaces(parent)] == [(child, "child")]
    assert [(r.node_id, r.rel_type) for r in await client.related_workspaces(child)] == [(parent, "parent")]
    roles = await client.workspace_roles(parent)
    leader = next(r for r in roles if r.leader)
    await client.add_role_member(parent, leader.id, 1000)
    await client.add_role_member(parent, leader.id, 1000)  # already a member: no second POST
    members = await client.role_members(parent, leader.id)
    assert [m.id for m in members] == [1000] and members[0].name == "Admin"
