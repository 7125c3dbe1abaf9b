"""Approvals in the ERP emulator: start, read and list them, their validation, Idempotency-Key, decisions by
ERP users, their change events, and that the generic records routes cannot touch them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, start_erp_emulator

from tests.unit.emulators_erp.conftest import Erp, Hold

REFERENCE = {"system": "opentext", "document_id": 100123, "document_name": "Supply agreement.pdf",
             "document_url": "https://ecm/app/nodes/100123", "version": 2, "workspace_id": 7,
             "workspace_url": "https://ecm/app/nodes/7"}
APPROVAL = {"process": "commercial_approval", "subject": "Supply agreement for Acme",
            "reference": REFERENCE, "record": {"entity": "suppliers", "id": "0000300001"},
            "requested_by": "xstream", "due_date": "2025-07-31", "fields": {"amount": 125000, "currency": "EUR"}}
XSTREAM = {"X-Xstream-Origin": "xstream", "X-Xstream-Causation": "opentext/doc/100123:v2"}


async def approval(erp: Erp, **fields: Any) -> dict[str, Any]:
    reply = await erp.call("POST", "/approvals", APPROVAL | fields)
    assert reply.status == 201, reply.body
    return dict(reply.body)


async def test_create_then_get(erp: Erp) -> None:
    reply = await erp.call("POST", "/approvals", APPROVAL, headers=XSTREAM)
    assert reply.status == 201
    created = reply.body
    assert created == {
        "id": "APR-000001", "process": "commercial_approval", "subject": "Supply agreement for Acme",
        "status": "pending", "reference": REFERENCE, "record": {"entity": "suppliers", "id": "0000300001"},
        "requested_by": "xstream", "due_date": "2025-07-31", "fields": {"amount": 125000, "currency": "EUR"},
        "decision": None, "decided_by": None, "decided_at": None, "comment": None, "version": 1,
        "created_at": created["created_at"], "updated_at": created["created_at"],
        "last_changed_by": "xstream", "last_causation": "opentext/doc/100123:v2"}
    assert created["created_at"].endswith("Z")
    assert reply.headers["Location"] == "/api/approvals/APR-000001" and reply.headers["ETag"] == '"1"'
    got = await erp.call("GET", "/approvals/APR-000001")
    assert (got.status, got.body, got.headers["ETag"]) == (200, created, '"1"')


async def test_only_the_required_fields(erp: Erp) -> None:
    reply = await erp.call("POST", "/approvals", {"process": "p", "subject": "s", "reference": None})
    assert reply.status == 201
    assert {k: reply.body[k] for k in ("reference", "record", "requested_by", "due_date", "fields")} == {
        "reference": None, "record": None, "requested_by": None, "due_date": None, "fields": {}}
    assert (reply.body["last_changed_by"], reply.body["last_causation"]) == ("api", None)


async def test_list_filters_and_pages(erp: Erp) -> None:
    for i in range(4):
        await approval(erp, subject=f"A{i}", process="commercial_approval" if i % 2 else "credit_check")
    await erp.admin("POST", "approvals/APR-000002/decide", {"decision": "approved"})
    reply = await erp.call("GET", "/approvals", params={"process": "commercial_approval", "status": "pending"})
    assert reply.status == 200
    assert (reply.body["entity"], reply.body["total"]) == ("approvals", 1)
    assert [a["id"] for a in reply.body["records"]] == ["APR-000004"]
    page = await erp.call("GET", "/approvals", params={"limit": "2", "offset": "1"})
    assert (page.body["total"], page.body["offset"], page.body["limit"]) == (4, 1, 2)
    assert [a["subject"] for a in page.body["records"]] == ["A1", "A2"]
    assert (await erp.call("GET", "/approvals", params={"offset": "-1"})).status == 400


@pytest.mark.parametrize(("payload", "status", "code", "named"), [
    (["not", "an", "object"], 400, "invalid_body", "object"),
    ({"subject": "s"}, 422, "invalid_field", "process"),
    ({"process": "  ", "subject": "s"}, 422, "invalid_field", "process"),
    ({"process": "p", "subject": None}, 422, "invalid_field", "subject"),
    ({"process": "p", "subject": 5}, 422, "invalid_field", "subject"),
    ({"process": "p", "subject": "s", "priority": "high"}, 422, "invalid_field", "priority"),
    ({"process": "p", "subject": "s", "status": "approved"}, 422, "read_only_field", "status"),
    ({"process": "p", "subject": "s", "id": "APR-9"}, 422, "read_only_field", "id"),
    ({"process": "p", "subject": "s", "reference": "doc 1"}, 422, "invalid_field", "reference"),
    ({"process": "p", "subject": "s", "fields": [1]}, 422, "invalid_field", "fields"),
    ({"process": "p", "subject": "s", "requested_by": 7}, 422, "invalid_field", "requested_by"),
    ({"process": "p", "subject": "s", "due_date": "next week"}, 422, "invalid_field", "due_date"),
    ({"process": "p", "subject": "s", "record": "0000300001"}, 422, "invalid_field", "record"),
    ({"process": "p", "subject": "s", "record": {"entity": "planets", "id": "1"}}, 422, "invalid_field",
     "record.entity"),
    ({"process": "p", "subject": "s", "record": {"entity": "suppliers"}}, 422, "invalid_field", "record.id"),
    ({"process": "p", "subject": "s", "record": {"entity": "suppliers", "id": "1", "x": 1}}, 422,
     "invalid_field", "record.x"),
])
async def test_validation_errors(erp: Erp, payload: object, status: int, code: str, named: str) -> None:
    reply = await erp.call("POST", "/approvals", payload)
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert named in reply.body["error"]["message"]
    assert (await erp.admin("GET", "state"))["counts"]["approvals"] == 0


async def test_accepted_values(erp: Erp) -> None:
    for due in ("2025-07-31", "2025-07-31T17:00:00Z", "2025-07-31T17:00:00+02:00"):
        assert (await erp.call("POST", "/approvals", APPROVAL | {"due_date": due})).status == 201, due
    created = await approval(erp, record={"entity": "suppliers", "id": 300001})
    assert created["record"] == {"entity": "suppliers", "id": "300001"}


async def test_empty_or_non_json_body_is_400(erp: Erp) -> None:
    reply = await erp.call("POST", "/approvals", headers={"Content-Type": "application/json"})
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_body")
    reply = await erp.call("POST", "/approvals", data=b"{nope", headers={"Content-Type": "application/json"})
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_body")


async def test_unknown_approval_is_404(erp: Erp) -> None:
    reply = await erp.call("GET", "/approvals/APR-999999")
    assert (reply.status, reply.body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PATCH", "/approvals/APR-000001", "GET"),
    ("DELETE", "/approvals/APR-000001", "GET"),
    ("PUT", "/approvals", "GET, POST"),
])
async def test_the_generic_records_routes_cannot_change_approvals(erp: Erp, method: str, path: str,
                                                                 allow: str) -> None:
    created = await approval(erp)
    reply = await erp.call(method, path, {"status": "approved"})
    assert (reply.status, reply.body["error"]["code"]) == (405, "method_not_allowed")
    assert reply.headers["Allow"] == allow
    assert (await erp.call("GET", f"/approvals/{created['id']}")).body == created


async def test_approvals_are_not_records_for_the_admin_records_api_either(erp: Erp) -> None:
    await approval(erp)
    async with erp.http.post(f"{erp.emu.admin_url}/records/approvals", json={"process": "x"}) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (422, "managed_entity")
    async with erp.http.patch(f"{erp.emu.admin_url}/records/approvals/APR-000001", json={"status": "x"}) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (422, "managed_entity")
    assert (await erp.call("GET", "/approvals/APR-000001")).body["status"] == "pending"
    with pytest.raises(ValueError):
        ErpEmulatorConfig(entities=("customers", "approvals"))


async def test_an_entity_whose_name_starts_like_approvals_is_a_record(http: aiohttp.ClientSession) -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(entities=("approvalsx",))) as emu:
        erp = Erp(http, emu, {})
        assert (await erp.call("POST", "/approvalsx", {"name": "n"})).status == 201
        assert (await erp.call("PATCH", "/approvalsx/APP-000001", {"name": "m"})).body["version"] == 2


async def test_same_key_and_body_replays_the_create(erp: Erp) -> None:
    first = await erp.call("POST", "/approvals", APPROVAL, key='"apr-1"')
    again = await erp.call("POST", "/approvals", dict(reversed(APPROVAL.items())), key='"apr-1"')
    assert (again.status, again.body) == (201, first.body)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert (again.headers["Location"], again.headers["ETag"]) == (first.headers["Location"], first.headers["ETag"])
    state = await erp.admin("GET", "state")
    assert state["counts"]["approvals"] == 1 and state["state_changing"] == 1
    assert (await erp.calls())["approvals.create"] == 2


async def test_same_key_other_body_is_422(erp: Erp) -> None:
    await erp.call("POST", "/approvals", APPROVAL, key="apr-2")
    reply = await erp.call("POST", "/approvals", APPROVAL | {"subject": "other"}, key="apr-2")
    assert (reply.status, reply.body["error"]["code"]) == (422, "idempotency_key_reused")
    assert (await erp.admin("GET", "state"))["counts"]["approvals"] == 1


async def test_same_key_in_flight_is_409(erp: Erp) -> None:
    hold = Hold(erp.emu, "approvals.create")
    first = asyncio.create_task(erp.call("POST", "/approvals", APPROVAL, key="apr-3"))
    await hold.held()  # the first create has claimed the key and is doing its work
    second = await erp.call("POST", "/approvals", APPROVAL, key="apr-3")
    assert (second.status, second.body["error"]["code"]) == (409, "idempotency_key_in_use")
    assert second.headers["Retry-After"] == "1"
    assert not first.done()
    hold.release()
    assert (await first).status == 201
    assert (await erp.admin("GET", "state"))["counts"]["approvals"] == 1


async def test_a_rejected_create_keeps_its_answer_for_the_key(erp: Erp) -> None:
    bad = await erp.call("POST", "/approvals", {"subject": "s"}, key="apr-4")
    again = await erp.call("POST", "/approvals", {"subject": "s"}, key="apr-4")
    assert (bad.status, again.status) == (422, 422) and again.headers["Idempotent-Replayed"] == "true"


async def test_decide(erp: Erp) -> None:
    created = await approval(erp)
    decided = await erp.admin("POST", f"approvals/{created['id']}/decide",
                              {"decision": "approved", "comment": "Terms ok", "by": "m.rossi"})
    assert decided["status"] == decided["decision"] == "approved"
    assert (decided["decided_by"], decided["comment"], decided["last_changed_by"]) == ("m.rossi", "Terms ok", "m.rossi")
    assert decided["decided_at"] == decided["updated_at"] and decided["decided_at"].endswith("Z")
    assert decided["version"] == 2 and decided["last_causation"] is None
    assert decided["created_at"] == created["created_at"] and decided["reference"] == REFERENCE
    got = await erp.call("GET", f"/approvals/{created['id']}")
    assert got.body == decided and got.headers["ETag"] == '"2"'


async def test_decide_defaults_to_the_erp_user(erp: Erp) -> None:
    created = await approval(erp)
    decided = await erp.admin("POST", f"approvals/{created['id']}/decide", {"decision": "rejected"})
    assert (decided["status"], decided["decided_by"], decided["last_changed_by"], decided["comment"]) == (
        "rejected", "erp-user", "erp-user", None)


@pytest.mark.parametrize(("target", "payload", "status", "code"), [
    ("APR-999999", {"decision": "approved"}, 404, "not_found"),
    ("APR-000001", {"decision": "maybe"}, 422, "invalid_field"),
    ("APR-000001", {}, 422, "invalid_field"),
    ("APR-000001", {"decision": "approved", "by": ""}, 422, "invalid_field"),
    ("APR-000001", {"decision": "approved", "comment": 5}, 422, "invalid_field"),
    ("APR-000001", {"decision": "approved", "reason": "x"}, 422, "invalid_field"),
    ("APR-000001", ["approved"], 400, "invalid_body"),
])
async def test_decide_errors(erp: Erp, target: str, payload: object, status: int, code: str) -> None:
    await approval(erp)
    async with erp.http.post(f"{erp.emu.admin_url}/approvals/{target}/decide", json=payload) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (status, code)
    assert (await erp.call("GET", "/approvals/APR-000001")).body["status"] == "pending"


async def test_only_a_pending_approval_can_be_decided(erp: Erp) -> None:
    created = await approval(erp)
    await erp.admin("POST", f"approvals/{created['id']}/decide", {"decision": "rejected"})
    async with erp.http.post(f"{erp.emu.admin_url}/approvals/{created['id']}/decide",
                             json={"decision": "approved"}) as r:
        body = await r.json()
        assert (r.status, body["error"]["code"]) == (409, "already_decided")
        assert "rejected" in body["error"]["message"]
    assert (await erp.call("GET", f"/approvals/{created['id']}")).body["status"] == "rejected"


async def test_creation_and_decision_are_change_events_and_state_changing(erp: Erp) -> None:
    await erp.customer()
    created = await approval(erp)
    decided = await erp.admin("POST", f"approvals/{created['id']}/decide", {"decision": "approved"})
    log = await erp.admin("GET", "changes", params={"entity": "approvals"})
    changes = log["changes"]
    assert [c["value"]["op"] for c in changes] == ["c", "u"]
    assert all(c["key"] == {"id": created["id"]} and c["value"]["source"]["table"] == "approvals" for c in changes)
    create, decision = changes[0]["value"], changes[1]["value"]
    assert create["before"] is None and create["after"] == created
    assert decision["before"] == created and decision["after"] == decided
    assert (await erp.calls())["state_changing"] == 3  # the customer, the approval, the decision
    everything = (await erp.admin("GET", "changes"))["changes"]
    assert [c["entity"] for c in everything] == ["customers", "approvals", "approvals"]


async def test_admin_state_shows_approvals_and_reset_clears_them(erp: Erp) -> None:
    created = await approval(erp)
    state = await erp.admin("GET", "state")
    assert state["records"]["approvals"] == [created] and state["counts"]["approvals"] == 1
    await erp.admin("POST", "reset")
    assert (await erp.admin("GET", "state"))["counts"]["approvals"] == 0
    assert (await approval(erp))["id"] == "APR-000001"


async def test_calls_are_counted_and_admin_decisions_are_not(erp: Erp) -> None:
    created = await approval(erp)
    await erp.call("GET", f"/approvals/{created['id']}")
    await erp.call("GET", "/approvals")
    await erp.admin("POST", f"approvals/{created['id']}/decide", {"decision": "approved"})
    assert await erp.calls() == {"approvals.create": 1, "approvals.get": 1, "approvals.list": 1,
                                 "state_changing": 2}


async def test_injected_faults_create_nothing(erp: Erp) -> None:
    await erp.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "503", "operations": ["approvals.create"]})
    reply = await erp.call("POST", "/approvals", APPROVAL, key="apr-5")
    assert reply.status == 503
    assert (await erp.call("GET", "/approvals")).body["total"] == 0
    await erp.admin("POST", "faults", {})
    reply = await erp.call("POST", "/approvals", APPROVAL, key="apr-5")
    assert reply.status == 201 and "Idempotent-Replayed" not in reply.headers


async def test_auth_applies_to_approvals_but_not_to_decisions(http: aiohttp.ClientSession) -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        anonymous = Erp(http, emu, {})
        for method, path, payload in (("POST", "/approvals", APPROVAL), ("GET", "/approvals", None),
                                      ("GET", "/approvals/APR-000001", None)):
            reply = await anonymous.call(method, path, payload)
            assert reply.status == 401 and reply.headers["WWW-Authenticate"], path
        erp = Erp(http, emu, {"Authorization": "Bearer erp-token"})
        created = await approval(erp)
        decided = await anonymous.admin("POST", f"approvals/{created['id']}/decide", {"decision": "approved"})
        assert decided["status"] == "approved"
