"""Web form submissions, the outbox a connector reads (order, paging, keys), the counts and the reset."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from tests.unit.emulators_intake.conftest import Intake

FORM = {"form_type": "claim_report", "fields": {"loss_date": "2026-03-01", "description": "Kitchen flooded"}}


async def test_a_submission_is_stored_as_its_json_keyed_by_its_id(intake: Intake) -> None:
    reply = await intake.admin("POST", "forms", FORM | {"submission_id": "web-42", "case_id": "CLM-2026-00042",
                                                        "customer_id": "CUS-000007",
                                                        "submitted_at": "2026-03-02T10:00:00Z"})
    assert (reply.status, reply.body) == (201, {"submission_id": "web-42", "seq": 1})
    item, = await intake.outbox()
    assert (item["seq"], item["kind"], item["key"]) == (1, "form", "web-42")
    value = base64.b64decode(item["value_b64"])
    assert list(json.loads(value)) == ["submission_id", "form_type", "case_id", "customer_id", "submitted_at", "fields"]
    assert json.loads(value) == {"submission_id": "web-42", "form_type": "claim_report", "case_id": "CLM-2026-00042",
                                 "customer_id": "CUS-000007", "submitted_at": "2026-03-02T10:00:00Z",
                                 "fields": FORM["fields"]}


async def test_absent_ids_are_null_or_generated_and_the_time_is_now_in_utc(intake: Intake) -> None:
    reply = await intake.admin("POST", "forms", FORM)
    item, = await intake.outbox()
    value = json.loads(base64.b64decode(item["value_b64"]))
    assert value["submission_id"] == reply.body["submission_id"] == item["key"] and len(item["key"]) == 36
    assert (value["case_id"], value["customer_id"]) == (None, None)
    assert value["submitted_at"].endswith("Z") and datetime.fromisoformat(value["submitted_at"]).utcoffset() is not None


@pytest.mark.parametrize("body", [
    {"fields": {}},
    {"form_type": " ", "fields": {}},
    {"form_type": "claim_report", "fields": []},
    {"form_type": "claim_report"},
    FORM | {"case_id": 42},
    FORM | {"submitted_at": "tuesday"},
])
async def test_bad_submissions_are_422_and_not_queued(intake: Intake, body: dict[str, object]) -> None:
    reply = await intake.admin("POST", "forms", body)
    assert (reply.status, reply.body["error"]["code"]) == (422, "invalid_field")
    assert await intake.outbox() == []


async def test_the_outbox_is_in_arrival_order_and_pages_by_seq(intake: Intake) -> None:
    first = await intake.mail()
    await intake.admin("POST", "forms", FORM | {"submission_id": "web-1"})
    third = await intake.mail(message_id="third@mail.example.com")
    items = await intake.outbox()
    assert [(i["seq"], i["kind"], i["key"]) for i in items] == [
        (1, "mail", first["message_id"][1:-1]), (2, "form", "web-1"), (3, "mail", "third@mail.example.com")]
    assert third["seq"] == 3
    assert [i["seq"] for i in await intake.outbox(1)] == [2, 3]
    assert [i["seq"] for i in await intake.outbox(0, limit="2")] == [1, 2]
    assert await intake.outbox(3) == []
    reply = await intake.admin("GET", "outbox", params={"since": "1", "limit": "1"})
    assert reply.body["last_seq"] == 3 and len(reply.body["items"]) == 1


async def test_state_counts_and_reset(intake: Intake) -> None:
    await intake.mail(attachments=[{"name": "big.bin", "media_type": "application/octet-stream", "size": 5000}])
    await intake.admin("POST", "forms", FORM)
    state = (await intake.admin("GET", "state")).body
    assert state == {"outbox": 2, "mails": 1, "forms": 1, "last_seq": 2, "blobs": 1, "blob_bytes": 5000,
                     "blob_downloads": 0}
    assert (await intake.admin("POST", "reset")).body == {"reset": True}
    state = (await intake.admin("GET", "state")).body
    assert (state["outbox"], state["blobs"], state["last_seq"]) == (0, 0, 0)
    assert (await intake.admin("POST", "forms", FORM)).body["seq"] == 1


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "outbox?since=-1", 400, "invalid_parameter"),
    ("GET", "outbox?limit=x", 400, "invalid_parameter"),
    ("GET", "nothing", 404, "no_route"),
    ("DELETE", "outbox", 405, "method_not_allowed"),
])
async def test_errors_are_typed_json(intake: Intake, method: str, path: str, status: int, code: str) -> None:
    async with intake.http.request(method, f"{intake.emu.admin_url}/{path}") as r:
        assert (r.status, r.content_type, (await r.json())["error"]["code"]) == (status, "application/json", code)
