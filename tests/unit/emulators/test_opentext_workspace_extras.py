"""Bulk create-or-update, business object references, related items, roles and members."""

from __future__ import annotations

import json

from tests.unit.emulators.conftest import CUSTOMER_CATEGORY, CUSTOMER_TEMPLATE, CUSTOMERS_FOLDER, Api

CAT = CUSTOMER_CATEGORY


def info(bo_id: str, name: str, **extra: object) -> dict[str, object]:
    return {"template_id": CUSTOMER_TEMPLATE, "name": name, "ext_system_id": "SAP", "bo_type": "KNA1",
            "bo_id": bo_id} | extra


async def test_bulk_creates_missing_and_updates_existing_by_business_object(api: Api) -> None:
    existing = await api.workspace("ACME", bo_id="1")
    reply = await api.body("PUT", "/v2/businessworkspaces", {"bws_infos": [
        info("1", "ACME Corp", roles={"categories": {str(CAT): {f"{CAT}_5": "EMEA"}}}),
        info("2", "Globex", parent_id=424242),  # ignored in bulk: the type has a fixed location
        {"template_id": CUSTOMER_TEMPLATE, "ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "3"},  # no name
    ]})
    assert reply.status == 200
    results = reply.body
    assert results[0] == {"id": existing, "error_message": ""}
    assert results[1]["error_message"] == "" and results[1]["id"] not in (None, existing)
    assert results[2]["id"] is None and "name" in results[2]["error_message"]
    state = (await api.admin("GET", "state"))["workspaces"]
    by_id = {w["id"]: w for w in state}
    assert (by_id[existing]["name"], by_id[existing]["categories"][f"{CAT}_5"]) == ("ACME Corp", "EMEA")
    assert by_id[results[1]["id"]]["parent_id"] == CUSTOMERS_FOLDER
    again = await api.body("PUT", "/v2/businessworkspaces", {"bws_infos": [info("2", "Globex")]})
    assert again.body == [{"id": results[1]["id"], "error_message": ""}]  # idempotent
    assert len((await api.admin("GET", "state"))["workspaces"]) == 2
    audit = (await api.get(f"/v2/nodes/{existing}/audit")).body["results"]["data"]["audit"]
    assert {e["audit_name"] for e in audit} >= {"Rename", "Attribute Value Changed"}
    flat = await api.call("PUT", "/v2/businessworkspaces", data={"bws_infos": json.dumps([info("4", "Initech")])})
    assert flat.status == 200 and flat.body[0]["error_message"] == ""  # a flat form field holding JSON
    for payload in ({}, {"bws_infos": "nope"}, {"bws_infos": [1]}):
        assert (await api.body("PUT", "/v2/businessworkspaces", payload)).status == 400


async def test_references_link_and_unlink_an_extra_business_object(api: Api) -> None:
    ws = await api.workspace("ACME", bo_id="1")
    other = await api.workspace("Other", bo_id="2")
    extra = {"ext_system_id": "CRM", "bo_type": "Account", "bo_id": "A-7"}
    path = f"/v2/businessworkspaces/{ws}/workspacereferences"
    assert (await api.call("PUT", path, data=extra)).status == 200
    found = await api.get("/v2/businessworkspaces", where_ext_system_id="CRM", where_bo_type="Account",
                          where_bo_id="A-7", expanded_view="true")
    assert [r["data"]["properties"]["id"] for r in found.body["results"]] == [ws]
    by_bo = await api.get("/v2/externalsystems/CRM/botypes/Account/boids/A-7")
    assert [r["data"]["properties"]["id"] for r in by_bo.body["results"]] == [ws]
    detail = (await api.get(f"/v2/businessworkspaces/{ws}")).body["results"]["data"]
    assert [r["business_object_id"] for r in detail["workspace_references"]] == ["1", "A-7"]
    assert detail["business_properties"]["business_object_id"] == "1"  # the first one stays the main one
    reply = await api.call("PUT", f"/v2/businessworkspaces/{other}/workspacereferences", data=extra)
    assert reply.status == 400 and "already linked" in reply.body["error"]
    assert (await api.call("DELETE", path, data=extra)).status == 200
    found = await api.get("/v2/businessworkspaces", where_bo_id="A-7", expanded_view="true")
    assert found.body["results"] == []
    assert (await api.call("DELETE", path, data=extra)).status == 400
    assert (await api.call("PUT", path, data={"ext_system_id": "CRM"})).status == 400
    assert (await api.call("PUT", "/v2/businessworkspaces/424242/workspacereferences", data=extra)).status == 404


async def test_related_items_are_bidirectional(api: Api) -> None:
    parent = await api.workspace("Parent Co", bo_id="1")
    child = await api.workspace("Child Co", bo_id="2")
    project = await api.body("POST", "/v2/businessworkspaces", {"template_id": 2013, "name": "Project X"})
    project_id = project.body["results"]["id"]
    reply = await api.call("POST", f"/v2/businessworkspaces/{parent}/relateditems",
                           data={"rel_bw_id": str(child), "rel_type": "child"})
    assert (reply.status, reply.body["results"]) == (200, {})
    await api.call("POST", f"/v2/businessworkspaces/{project_id}/relateditems",
                   data={"rel_bw_id": str(parent), "rel_type": "parent"})  # parent is the project's parent

    async def related(ws: int, **params: str) -> list[tuple[int, str]]:
        reply = await api.get(f"/v2/businessworkspaces/{ws}/relateditems", **params)
        assert reply.status == 200, reply.body
        return [(r["data"]["properties"]["id"], r["data"]["properties"]["rel_type"]) for r in reply.body["results"]]

    assert sorted(await related(parent)) == sorted([(child, "child"), (project_id, "child")])
    assert await related(child) == [(parent, "parent")]
    assert await related(project_id) == [(parent, "parent")]
    assert await related(parent, where_workspace_type_ids="3") == [(project_id, "child")]
    assert await related(parent, where_rel_types="parent") == []
    assert await related(parent, where_name="Chi") == [(child, "child")]
    reply = await api.call("POST", f"/v2/businessworkspaces/{parent}/relateditems", data={"rel_bw_id": str(child)})
    assert reply.status == 400 and "already exists" in reply.body["error"]
    assert (await api.call("DELETE", f"/v2/businessworkspaces/{parent}/relateditems/{child}",
                           params={"rel_type": "child"})).status == 200
    assert await related(child) == []
    assert (await api.call("DELETE", f"/v2/businessworkspaces/{parent}/relateditems/{child}")).status == 404
    page = await api.get(f"/v2/businessworkspaces/{parent}/relateditems", limit="1")
    assert page.body["paging"]["total_count"] == 1


async def test_roles_and_members(api: Api) -> None:
    ws = await api.workspace("Team Co", bo_id="1")
    roles = (await api.get(f"/v2/businessworkspaces/{ws}/roles")).body["results"]
    props = [r["data"]["properties"] for r in roles]
    assert [(p["name"], p["leader"]) for p in props] == [("Account Manager", True), ("Legal", False)]
    manager, legal = props[0]["id"], props[1]["id"]
    one = await api.get(f"/v2/businessworkspaces/{ws}/roles/{legal}")
    assert one.body["results"]["data"]["properties"]["name"] == "Legal"
    members = f"/v2/businessworkspaces/{ws}/roles/{manager}/members"
    reply = await api.call("POST", members, data={"id": "1001"})  # jdoe
    assert reply.status == 200 and reply.body["results"]["data"]["properties"]["name"] == "jdoe"
    assert (await api.call("POST", members, data={"id": "1001"})).status == 400  # already a member
    assert (await api.call("POST", members, data={"id": "4242"})).status == 400  # no such user
    await api.body("POST", f"/v2/businessworkspaces/{ws}/roles/{legal}/members", {"id": 1000})
    listed = (await api.get(members)).body["results"]
    assert [m["data"]["properties"]["id"] for m in listed] == [1001]
    everyone = (await api.get(f"/v2/businessworkspaces/{ws}/members")).body
    assert [(r["data"]["properties"]["name"], [m["id"] for m in r["data"]["members"]]) for r in everyone["results"]] \
        == [("Account Manager", [1001]), ("Legal", [1000])]
    assert everyone["collection"]["paging"]["total_count"] == 2
    assert (await api.call("DELETE", f"{members}/1001")).status == 200
    assert (await api.get(members)).body["results"] == []
    assert (await api.call("DELETE", f"{members}/1001")).status == 400
    other = await api.workspace("Other Co", bo_id="2")
    assert (await api.get(f"/v2/businessworkspaces/{other}/roles/{manager}")).status == 404  # not its role
    supplier = await api.body("POST", "/v2/businessworkspaces", {"template_id": 2012, "name": "Supplier Co"})
    supplier_roles = (await api.get(f"/v2/businessworkspaces/{supplier.body['results']['id']}/roles")).body
    assert [r["data"]["properties"]["name"] for r in supplier_roles["results"]] == ["Purchaser", "Legal"]


async def test_enclosing_workspace_of_a_node(api: Api) -> None:
    ws = await api.workspace("Home Co", bo_id="1")
    folder = await api.folder("Inside", parent_id=ws)
    doc = await api.document(folder, "deep.pdf")
    reply = await api.get(f"/v1/nodes/{doc}/businessworkspace")
    assert reply.body == {"id": ws, "type": 848, "workspace_type_id": 1, "isLinked": True}
    assert (await api.get("/v1/nodes/2000/businessworkspace")).status == 400


async def test_deleting_a_workspace_frees_its_business_object(api: Api) -> None:
    ws = await api.workspace("Doomed", bo_id="9")
    assert (await api.call("DELETE", f"/v2/nodes/{ws}")).status == 200
    assert await api.workspace("Reborn", bo_id="9") != ws
