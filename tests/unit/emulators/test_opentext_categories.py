"""Applying, updating and removing categories on nodes; set rows; edit-conflict tokens."""

from __future__ import annotations

import json

import pytest
from xstream_emulators.opentext import OpenTextState
from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext.model import ApiError

from tests.unit.emulators.conftest import CUSTOMER_CATEGORY, DOCUMENT_CATEGORY, ENTERPRISE, Api

CAT = CUSTOMER_CATEGORY
DOC = DOCUMENT_CATEGORY


async def values(api: Api, node_id: int, cat_id: int) -> dict:
    reply = await api.get(f"/v2/nodes/{node_id}/categories/{cat_id}")
    assert reply.status == 200, reply.body
    return dict(reply.body["results"]["data"]["categories"])


async def test_apply_with_flat_fields_or_body_and_twice_is_400(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "a.pdf")
    reply = await api.call("POST", f"/v2/nodes/{doc}/categories", data={"category_id": str(DOC), f"{DOC}_2": "Invoice"})
    assert (reply.status, reply.body["results"]) == (200, {})
    assert await values(api, doc, DOC) == {f"{DOC}_2": "Invoice", f"{DOC}_3": None, f"{DOC}_4": None, f"{DOC}_5": None, f"{DOC}_6": None}
    reply = await api.body("POST", f"/v2/nodes/{doc}/categories", {"category_id": DOC})
    assert (reply.status, reply.body) == (400, {"error": "The attribute group 'Document' already exists"})
    reply = await api.body("POST", f"/v2/nodes/{doc}/categories", {"category_id": CAT, f"{CAT}_2": "K-1"})
    assert reply.status == 200 and (await values(api, doc, CAT))[f"{CAT}_2"] == "K-1"
    for payload, fragment in [({}, "category_id"), ({"category_id": "x"}, "category_id"),
                              ({"category_id": 999}, "attribute definition"),
                              ({"category_id": DOC, f"{CAT}_2": "wrong category"}, "already exists")]:
        reply = await api.body("POST", f"/v2/nodes/{doc}/categories", payload)
        assert reply.status == 400 and fragment in reply.body["error"], payload
    assert (await api.body("POST", "/v2/nodes/424242/categories", {"category_id": DOC})).status == 500


async def test_update_merges_only_keys_of_that_category(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "b.pdf", roles={"categories": {f"{DOC}_2": "Invoice"}})
    reply = await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOC}", {f"{DOC}_3": "Approved"})
    assert (reply.status, reply.body["results"]) == (200, {})
    assert await values(api, doc, DOC) == {f"{DOC}_2": "Invoice", f"{DOC}_3": "Approved", f"{DOC}_4": None, f"{DOC}_5": None, f"{DOC}_6": None}
    reply = await api.call("PUT", f"/v2/nodes/{doc}/categories/{DOC}", data={f"{DOC}_4": "2025-01-31"})  # flat form
    assert reply.status == 200 and (await values(api, doc, DOC))[f"{DOC}_4"] == "2025-01-31"
    reply = await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOC}", {f"{CAT}_2": "x"})
    assert reply.status == 400
    assert reply.body["error"] == (f"Category ID '{DOC}' was specified for Categories Update, but a non-matching "
                                   f"attribute ('{CAT}_2') was found")
    assert (await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOC}", {f"{DOC}_77": "x"})).status == 400
    reply = await api.body("PUT", f"/v2/nodes/{doc}/categories/{CAT}", {f"{CAT}_2": "x"})
    assert reply.status == 400 and "is not a category on node" in reply.body["error"]
    assert (await api.call("PUT", f"/v2/nodes/{doc}/categories/{DOC}")).status == 400  # no parameters


async def test_update_with_a_stale_metadata_token_is_409(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "c.pdf", roles={"categories": {f"{DOC}_2": "Invoice"}})
    state = (await api.call("GET", f"/v2/nodes/{doc}?state")).body["results"]["state"]
    token = state["categories"][str(DOC)]["metadata_token"]
    reply = await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOC}",
                           {f"{DOC}_1": {"metadata_token": token}, f"{DOC}_3": "Approved"})
    assert reply.status == 200
    fresh = reply.body["results"]["state"]["categories"][str(DOC)]["metadata_token"]
    assert fresh != token
    reply = await api.body("PUT", f"/v2/nodes/{doc}/categories/{DOC}",
                           {f"{DOC}_1": {"metadata_token": token}, f"{DOC}_3": "Rejected"})
    assert (reply.status, reply.body) == (409, {"error": "Could not update metadata (edit conflict)."})
    assert (await values(api, doc, DOC))[f"{DOC}_3"] == "Approved"
    flat = {f"{DOC}_1": json.dumps({"metadata_token": fresh}), f"{DOC}_3": "Rejected"}  # token in a flat form
    assert (await api.call("PUT", f"/v2/nodes/{doc}/categories/{DOC}", data=flat)).status == 200
    children = await api.call("GET", f"/v2/nodes/{ENTERPRISE}/nodes?state&where_name=c.pdf")
    assert str(DOC) in children.body["results"][0]["state"]["categories"]


async def test_set_rows_are_written_extended_and_removed(api: Api) -> None:
    ws = await api.workspace(roles={"categories": {str(CAT): {f"{CAT}_2": "K-1", f"{CAT}_7": [
        {f"{CAT}_7_x_8": "Jane", f"{CAT}_7_x_9": "jane@example.com"},
        {f"{CAT}_7_x_8": "Joe", f"{CAT}_7_x_9": "joe@example.com"}]}}})
    got = await values(api, ws, CAT)
    assert {k: v for k, v in got.items() if k.startswith(f"{CAT}_7_")} == {
        f"{CAT}_7_1_8": "Jane", f"{CAT}_7_1_9": "jane@example.com",
        f"{CAT}_7_2_8": "Joe", f"{CAT}_7_2_9": "joe@example.com"}
    await api.body("PUT", f"/v2/nodes/{ws}/categories/{CAT}", {f"{CAT}_7_4_8": "Fourth"})  # row 3 appears empty
    got = await values(api, ws, CAT)
    assert (got[f"{CAT}_7_3_8"], got[f"{CAT}_7_4_8"], got[f"{CAT}_7_4_9"]) == (None, "Fourth", None)
    await api.body("PUT", f"/v2/nodes/{ws}/categories/{CAT}", {f"{CAT}_7_1": ""})  # remove row 1: rows move up
    got = await values(api, ws, CAT)
    assert [got.get(f"{CAT}_7_{r}_8") for r in (1, 2, 3, 4)] == ["Joe", None, "Fourth", None]
    assert f"{CAT}_7_4_8" not in got
    reply = await api.body("PUT", f"/v2/nodes/{ws}/categories/{CAT}", {f"{CAT}_7_6_8": "too many"})
    assert reply.status == 400 and "at most 5 rows" in reply.body["error"]
    assert (await api.body("PUT", f"/v2/nodes/{ws}/categories/{CAT}", {f"{CAT}_7_1_5": "x"})).status == 400
    reply = await api.get(f"/v2/nodes/{ws}/categories/{CAT}")
    assert reply.body["results"]["metadata"]["categories"][f"{CAT}_7_x_9"]["name"] == "Email"


async def test_delete_category_and_audit_event_10(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "d.pdf", roles={"categories": {f"{DOC}_1": {}}})  # defaults
    assert await values(api, doc, DOC) == {f"{DOC}_2": None, f"{DOC}_3": None, f"{DOC}_4": None, f"{DOC}_5": None, f"{DOC}_6": None}
    reply = await api.call("DELETE", f"/v2/nodes/{doc}/categories/{DOC}")
    assert (reply.status, reply.body["results"]) == (200, {})
    assert (await api.get(f"/v2/nodes/{doc}/categories")).body["results"] == []
    assert (await api.call("DELETE", f"/v2/nodes/{doc}/categories/{DOC}")).status == 400
    audit = (await api.get(f"/v2/nodes/{doc}/audit", where_type="10")).body["results"]["data"]["audit"]
    assert [e["audit_name"] for e in audit] == ["Attribute Value Changed"]


def test_merge_rules_without_http() -> None:
    state = OpenTextState()
    customer = state.categories[CAT]
    base = cats.default_values(customer)
    merged = cats.merge(customer, base, {f"{CAT}_7": {f"{CAT}_7_1_8": "Only"}})  # a single-row object
    assert merged[f"{CAT}_7_1_8"] == "Only" and cats.row_count(merged, customer.attribute(f"{CAT}_7")) == 1
    emptied = cats.merge(customer, merged, {f"{CAT}_7": []})
    assert cats.row_count(emptied, customer.attribute(f"{CAT}_7")) == 0
    with pytest.raises(ApiError) as err:
        cats.merge(customer, base, {f"{CAT}_7": [{f"{CAT}_7_x_2": "wrong attribute"}]})
    assert err.value.status == 400
