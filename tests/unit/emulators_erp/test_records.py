"""Records CRUD as a client of an ERP/CRM REST API sees it: shapes, status codes, merge semantics."""

from __future__ import annotations

import pytest
from xstream_emulators.erp import ErpEmulatorConfig

from tests.unit.emulators_erp.conftest import Erp


async def test_create_then_get(erp: Erp) -> None:
    reply = await erp.call("POST", "/customers", {"name": "Acme", "region": "EMEA"})
    assert reply.status == 201
    record = reply.body
    assert record["id"] == "CUS-000001"
    assert record["status"] == "active" and record["links"] == {} and record["version"] == 1
    assert record["last_changed_by"] == "api" and record["last_causation"] is None
    assert record["created_at"].endswith("Z")
    assert reply.headers["Location"] == "/api/customers/CUS-000001"
    got = await erp.call("GET", "/customers/CUS-000001")
    assert got.status == 200 and got.body == record
    assert got.headers["ETag"] == '"1"'


async def test_create_with_own_id_and_duplicate(erp: Erp) -> None:
    assert (await erp.customer(id="0000100001"))["id"] == "0000100001"
    again = await erp.call("POST", "/customers", {"id": "0000100001", "name": "Other"})
    assert again.status == 409 and again.body["error"]["code"] == "duplicate_id"


async def test_patch_merges_fields_and_records_who_changed_it(erp: Erp) -> None:
    created = await erp.customer(links={"documents": ["a"]})
    reply = await erp.call("PATCH", f"/customers/{created['id']}",
                           {"links": {"workspace_url": "https://ecm/app/nodes/7", "workspace_id": 7}, "region": None,
                            "owner": "j.doe"},
                           headers={"X-Xstream-Origin": "xstream", "X-Xstream-Causation": "opentext/ws/evt:9"})
    assert reply.status == 200
    record = reply.body
    assert record["links"] == {"documents": ["a"], "workspace_url": "https://ecm/app/nodes/7", "workspace_id": 7}
    assert "region" not in record and record["owner"] == "j.doe" and record["name"] == "Acme"
    assert record["version"] == 2
    assert (record["last_changed_by"], record["last_causation"]) == ("xstream", "opentext/ws/evt:9")
    assert (await erp.call("GET", f"/customers/{created['id']}")).body == record


async def test_a_patch_that_changes_nothing_keeps_the_record(erp: Erp) -> None:
    created = await erp.customer()
    before = await erp.calls()
    reply = await erp.call("PATCH", f"/customers/{created['id']}", {"name": "Acme"},
                           headers={"X-Xstream-Origin": "xstream"})
    assert reply.status == 200 and reply.body == created
    assert (await erp.calls())["state_changing"] == before["state_changing"]


@pytest.mark.parametrize(("method", "path", "payload", "status", "code"), [
    ("GET", "/customers/nope", None, 404, "not_found"),
    ("PATCH", "/customers/nope", {"a": 1}, 404, "not_found"),
    ("GET", "/planets/1", None, 404, "unknown_entity"),
    ("POST", "/planets", {"a": 1}, 404, "unknown_entity"),
    ("POST", "/customers", ["not", "an", "object"], 400, "invalid_body"),
    ("POST", "/customers", {"version": 3}, 422, "read_only_field"),
    ("POST", "/customers", {"status": 3}, 422, "invalid_field"),
    ("DELETE", "/customers/x", None, 405, "method_not_allowed"),
    ("GET", "/customers/x/y", None, 404, "not_found"),
])
async def test_errors_are_json(erp: Erp, method: str, path: str, payload: object, status: int, code: str) -> None:
    reply = await erp.call(method, path, payload)
    assert reply.status == status
    assert reply.body["error"]["code"] == code and reply.body["error"]["message"]


async def test_patch_may_not_set_system_fields(erp: Erp) -> None:
    created = await erp.customer()
    for field in ("id", "last_changed_by", "updated_at"):
        reply = await erp.call("PATCH", f"/customers/{created['id']}", {field: "x"})
        assert reply.status == 422 and reply.body["error"]["code"] == "read_only_field"


async def test_patch_without_a_body_is_400(erp: Erp) -> None:
    created = await erp.customer()
    reply = await erp.call("PATCH", f"/customers/{created['id']}", headers={"Content-Type": "application/json"})
    assert reply.status == 400 and reply.body["error"]["code"] == "invalid_body"


async def test_list_filters_and_pages(erp: Erp) -> None:
    for i in range(5):
        await erp.customer(name=f"C{i}", status="blocked" if i % 2 else "active")
    await erp.call("POST", "/suppliers", {"name": "S"})
    reply = await erp.call("GET", "/customers", params={"status": "active"})
    assert reply.body["total"] == 3 and {r["name"] for r in reply.body["records"]} == {"C0", "C2", "C4"}
    page = await erp.call("GET", "/customers", params={"limit": "2", "offset": "1"})
    assert page.body["total"] == 5 and [r["name"] for r in page.body["records"]] == ["C1", "C2"]
    bad = await erp.call("GET", "/customers", params={"limit": "x"})
    assert bad.status == 400


async def test_every_entity_exists_and_ids_are_per_entity(erp: Erp) -> None:
    for entity in ErpEmulatorConfig().entities:
        reply = await erp.call("POST", f"/{entity}", {"name": entity})
        assert reply.status == 201, reply.body
        assert reply.body["id"].endswith("-000001")


async def test_calls_are_counted_by_operation(erp: Erp) -> None:
    created = await erp.customer()
    await erp.call("GET", f"/customers/{created['id']}")
    await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"})
    await erp.call("GET", "/customers")
    assert await erp.calls() == {"records.create": 1, "records.get": 1, "records.patch": 1, "records.list": 1,
                                 "state_changing": 2}
