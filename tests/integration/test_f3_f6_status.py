"""Flows F3 and F6 end to end on a real broker: a contract's status changes in OpenText (the emulator,
through its REST API) -> the poller or the webhook sees it -> the status rules -> an approval starts in
the ERP emulator, the supplier record is updated, the team's chat channel gets one message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
from xstream_emulators.embedded import free_port

from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import TIMEOUT_S, decoded, quiet
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import Collector
from xstream.demo.opentext_user import file_document, set_status, workspace_for
from xstream.ingress.signature import sign
from xstream.topics import Role

pytestmark = pytest.mark.integration

SUPPLIER_ID = "0000300001"
SUPPLIER = {"id": SUPPLIER_ID, "supplier_id": SUPPLIER_ID, "name": "Globex Metals", "purchaser": "k.tanaka",
            "country": "US", "posting_block": False}
CONTRACT = "Supply Agreement 2027.pdf"
SECRET = "webhook-secret-of-the-tests-2026"
POLLER = {"XSTREAM_POLLER__ENABLED": "true", "XSTREAM_POLLER__INTERVAL_S": "1",
          "XSTREAM_POLLER__OVERLAP_S": "30"}


def webhook_env(port: int) -> dict[str, str]:
    return {"XSTREAM_WEBHOOK__ENABLED": "true", "XSTREAM_WEBHOOK__PORT": str(port),
            "XSTREAM_WEBHOOK__HOST": "127.0.0.1", "XSTREAM_WEBHOOK__SECRET": SECRET}


async def supplier_contract(stack: Stack, client: OpenTextClient, status: str = "In Legal Review") -> int:
    """The supplier exists in the ERP and has its workspace in OpenText, holding a contract in ``status``."""
    await stack.admin("records/suppliers", "POST", SUPPLIER, target="erp")
    workspace = await workspace_for(client, "Supplier", BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                          bo_id=SUPPLIER_ID), "Globex Metals (0000300001)")
    return await file_document(client, workspace, CONTRACT, document_type="Contract", status=status)


async def approvals(stack: Stack) -> list[dict[str, Any]]:
    return list((await stack.admin("state", target="erp"))["records"].get("approvals", []))


async def messages(stack: Stack, channel: str | None = None) -> list[dict[str, Any]]:
    found = (await stack.admin("messages", target="chat"))["messages"]
    return [m for m in found if channel is None or m["channel"] == channel]


def events_of(collector: Collector, stack: Stack, doc: int) -> list[dict[str, Any]]:
    return [e for e in decoded(collector, stack.topic(Role.OPENTEXT_EVENTS)) if e["document"]["node_id"] == doc]


def statuses_of(collector: Collector, stack: Stack, kind: str) -> list[dict[str, Any]]:
    return [s for s in decoded(collector, stack.topic(Role.STATUS)) if s["command_kind"] == kind]


async def eventually(check: Callable[[], Any], collector: Collector, stack: Stack, timeout_s: float = TIMEOUT_S) -> Any:
    """Poll an async check until it returns something truthy (an emulator's state, not a topic)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await collector.wait_for(lambda: False, 0.3)
    raise AssertionError(f"not reached within {timeout_s}s\n{stack.logs()}")


async def test_poller_status_change_starts_one_approval_and_notifies_then_signing_updates_the_supplier(
        stack: Stack, opentext: OpenTextClient) -> None:
    doc = await supplier_contract(stack, opentext)
    collector = await stack.collect(Role.OPENTEXT_EVENTS, Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(**POLLER)
    # start_from=latest: the first scan records the contract as it is (a snapshot) and fires nothing
    assert await collector.wait_for(lambda: any(e["snapshot"] for e in events_of(collector, stack, doc)), TIMEOUT_S), \
        stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 2.0)
    assert await approvals(stack) == [] and await messages(stack) == []

    await set_status(opentext, doc, "Legal Review Done")  # F3: legal review finished in OpenText
    assert await collector.wait_for(lambda: any(s["outcome"] == "applied"
                                                for s in statuses_of(collector, stack, "notify")), TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    (approval,) = await approvals(stack)
    assert approval["process"] == "commercial_approval" and approval["status"] == "pending"
    assert approval["record"] == {"entity": "suppliers", "id": SUPPLIER_ID}
    assert approval["reference"]["document_id"] == doc and approval["reference"]["document_name"] == CONTRACT
    assert approval["last_changed_by"] == "xstream"
    (started,) = statuses_of(collector, stack, "start_approval")
    assert started["outcome"] == "applied" and started["target"] == "erp"
    assert started["downstream"]["record_id"] == approval["id"] and started["document"]["node_id"] == doc
    assert started["rule"] == "supplier-contract-legal-review-done"
    assert started["business_object"] == {"ext_system_id": "SAP_PRD", "bo_type": "LFA1", "bo_id": SUPPLIER_ID}
    (message,) = await messages(stack)
    assert message["channel"] == "commercial" and CONTRACT in message["text"]
    polled = [e for e in events_of(collector, stack, doc) if not e["snapshot"]]
    assert [e["kind"] for e in polled] == ["document.attributes_changed"]
    assert polled[0]["ingress"] == "poller" and polled[0]["changes"][0]["name"] == "Attribute Value Changed"

    await set_status(opentext, doc, "Signed")  # F6: signed -> the supplier record says so, procurement hears
    supplier = await eventually(lambda: _signed_supplier(stack), collector, stack)
    assert supplier["contract_url"].endswith(f"/app/nodes/{doc}")
    await eventually(lambda: messages(stack, "procurement"), collector, stack)
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    assert len(await approvals(stack)) == 1 and len(await messages(stack)) == 2
    assert decoded(collector, stack.topic(Role.DEAD_LETTER)) == []


async def _signed_supplier(stack: Stack) -> dict[str, Any] | None:
    suppliers = {r["id"]: r for r in (await stack.admin("state", target="erp"))["records"]["suppliers"]}
    record = suppliers[SUPPLIER_ID]
    return record if record.get("contract_status") == "signed" else None


async def post_hook(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read() or b"{}")


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {"Content-Type": "application/json", "X-Xstream-Timestamp": str(timestamp),
            "X-Xstream-Signature": sign(secret, timestamp, body)}


async def test_bad_webhook_requests_are_refused_and_counted_and_a_good_one_is_published(
        stack: Stack, opentext: OpenTextClient) -> None:
    doc = await supplier_contract(stack, opentext)
    collector = await stack.collect(Role.OPENTEXT_EVENTS, Role.DEAD_LETTER)
    port = free_port()
    worker = stack.start_worker(**webhook_env(port))
    url = f"http://127.0.0.1:{port}/hooks/opentext"
    body = orjson.dumps({"event": "document.attributes_changed", "node_id": doc, "event_id": "audit-1"})
    await eventually(lambda: _listening(url), collector, stack)

    assert (await post_hook(url, body, {"Content-Type": "application/json"}))[0] == 401  # unsigned
    assert (await post_hook(url, body, signed(body, secret="another-secret-of-16+chars")))[0] == 401
    assert (await post_hook(url, body, signed(body, at=int(time.time()) - 3600)))[0] == 401  # stale
    tampered = body.replace(b"audit-1", b"audit-2")
    assert (await post_hook(url, tampered, signed(body)))[0] == 401  # signature of another body
    headers = signed(body)
    status, answer = await post_hook(url, body, headers)
    assert status == 202 and answer["accepted"] == 1
    status, answer = await post_hook(url, body, headers)  # the same signed request again
    assert status == 401 and answer["error"] == "replayed"
    huge = orjson.dumps({"event": "document.added", "node_id": doc, "padding": "x" * 70_000})
    assert (await post_hook(url, huge, signed(huge)))[0] == 413
    garbage = b'{"event": "document.added", "node_id": '
    status, answer = await post_hook(url, garbage, signed(garbage))
    assert status == 400 and "malformed_json" in answer["detail"]

    assert await collector.wait_for(lambda: len(events_of(collector, stack, doc)) >= 1
                                    and decoded(collector, stack.topic(Role.DEAD_LETTER)), TIMEOUT_S), stack.logs()
    (event,) = events_of(collector, stack, doc)
    assert event["ingress"] == "webhook" and event["hook_event_id"] == "audit-1"
    assert event["document"]["attributes"]["Document"]["Status"] == "In Legal Review"
    (letter,) = decoded(collector, stack.topic(Role.DEAD_LETTER))
    assert letter["reason"] == "malformed_json" and letter["received"] == "webhook POST /hooks/opentext"
    assert letter["value"]["data"] == garbage.decode()
    async with aiohttp.ClientSession() as http, http.get(f"{worker.base_url}/metrics") as resp:
        metrics = await resp.text()
    for reason, count in (("unsigned", 1), ("bad_signature", 2), ("stale", 1), ("replayed", 1), ("too_large", 1),
                          ("invalid", 1)):
        assert f'xstream_webhook_rejected_total{{reason="{reason}"}} {count:.1f}' in metrics, reason


async def _listening(url: str) -> bool:
    """The webhook answers (a GET is not allowed: 405, and not counted as a refused hook)."""
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            return resp.status == 405
    except aiohttp.ClientError:
        return False


async def register_hook(stack: Stack, port: int) -> None:
    """The server-side hook (Content Script in a real Content Server) calls the worker's webhook, signed."""
    await stack.admin("hooks", "POST", {"url": f"http://127.0.0.1:{port}/hooks/opentext", "secret": SECRET})


async def test_webhook_status_change_starts_one_approval_and_notifies(stack: Stack, opentext: OpenTextClient) -> None:
    port = free_port()
    collector = await stack.collect(Role.OPENTEXT_EVENTS, Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(**webhook_env(port))
    await eventually(lambda: _listening(f"http://127.0.0.1:{port}/hooks/opentext"), collector, stack)
    await register_hook(stack, port)
    doc = await supplier_contract(stack, opentext)  # added + its category set: hooks fire, no rule does
    assert await collector.wait_for(lambda: any(e["kind"] == "document.added" for e in events_of(collector, stack, doc)),
                                    TIMEOUT_S), stack.logs()

    await set_status(opentext, doc, "Legal Review Done")
    assert await collector.wait_for(lambda: any(s["outcome"] == "applied"
                                                for s in statuses_of(collector, stack, "notify")), TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    (approval,) = await approvals(stack)
    assert approval["reference"]["document_id"] == doc
    (message,) = await messages(stack)
    assert message["channel"] == "commercial"
    assert {e["ingress"] for e in events_of(collector, stack, doc)} == {"webhook"}
    assert all(d["delivered"] for d in (await stack.admin("hooks"))["deliveries"])
    assert decoded(collector, stack.topic(Role.DEAD_LETTER)) == []


async def test_a_change_seen_by_poller_and_webhook_acts_once_and_replaying_the_events_changes_nothing(
        stack: Stack, opentext: OpenTextClient) -> None:
    doc = await supplier_contract(stack, opentext)
    port = free_port()
    collector = await stack.collect(Role.OPENTEXT_EVENTS, Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(**POLLER, **webhook_env(port))
    assert await collector.wait_for(lambda: any(e["snapshot"] for e in events_of(collector, stack, doc)), TIMEOUT_S), \
        stack.logs()
    await register_hook(stack, port)

    await set_status(opentext, doc, "Legal Review Done")

    def seen_twice() -> bool:
        changed = [e for e in events_of(collector, stack, doc) if not e["snapshot"]]
        return {e["ingress"] for e in changed} == {"poller", "webhook"}

    assert await collector.wait_for(seen_twice, TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    changed = [e for e in events_of(collector, stack, doc) if not e["snapshot"]]
    assert len({e["event_id"] for e in changed}) == 1  # the same observation, whoever saw it
    assert len(await approvals(stack)) == 1 and len(await messages(stack)) == 1
    assert len(statuses_of(collector, stack, "start_approval")) == 1

    # F6 through a workflow: the Contract Approval workflow on the contract completes
    maps = await opentext.find_workflows(doc, (await opentext.get_node(doc)).parent_id or 0)
    process = await opentext.start_workflow(next(m.id for m in maps if m.name == "Contract Approval"), [doc])
    await stack.admin(f"workflows/{process}/complete", "POST")
    supplier = await eventually(lambda: _supplier_with(stack, "approved"), collector, stack)
    assert supplier["last_changed_by"] == "xstream"
    await eventually(lambda: messages(stack, "procurement"), collector, stack)
    assert await collector.wait_for(lambda: {e["ingress"] for e in events_of(collector, stack, doc)
                                             if e["kind"] == "workflow.finished"} == {"poller", "webhook"}, TIMEOUT_S)
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    assert len(await messages(stack, "procurement")) == 1

    stack.workers[-1].stop()
    erp_before = await stack.admin("state", target="erp")
    erp_calls = await stack.admin("calls", target="erp")
    chat_before = (await stack.admin("messages", target="chat"))["count"]
    applied = [s for s in decoded(collector, stack.topic(Role.STATUS)) if s["outcome"] == "applied"]
    seen_before = len(collector.records[stack.topic(Role.STATUS)])

    # A new deployment (new consumer groups, an empty document table) reads every topic from offset 0.
    stack.start_worker(app_id="xstream-replayed")
    assert await collector.wait_for(
        lambda: len(collector.records[stack.topic(Role.STATUS)]) >= seen_before + 2 * len(applied), TIMEOUT_S), \
        stack.logs()
    await quiet(collector, stack.topic(Role.STATUS), 3.0)
    new = decoded(collector, stack.topic(Role.STATUS))[seen_before:]
    assert {s["outcome"] for s in new} == {"already_applied"}
    assert {s["idempotency_key"] for s in new} == {s["idempotency_key"] for s in applied}
    erp_after = await stack.admin("state", target="erp")
    assert erp_after["records"] == erp_before["records"] and erp_after["idempotency_keys"] == erp_before["idempotency_keys"]
    assert (await stack.admin("calls", target="erp")).get("approvals.create", 0) == erp_calls.get("approvals.create", 0)
    assert (await stack.admin("messages", target="chat"))["count"] == chat_before
    assert decoded(collector, stack.topic(Role.DEAD_LETTER)) == []


async def _supplier_with(stack: Stack, contract_status: str) -> dict[str, Any] | None:
    suppliers = {r["id"]: r for r in (await stack.admin("state", target="erp"))["records"]["suppliers"]}
    record = suppliers[SUPPLIER_ID]
    return record if record.get("contract_status") == contract_status else None
