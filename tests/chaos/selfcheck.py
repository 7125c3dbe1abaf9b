"""The suite checks itself: after a run is counted, known anomalies are injected into the emulators and
the topics (through their APIs, as a faulty xstream would cause them), everything is counted again and
each anomaly must show up exactly where it belongs. A suite that cannot see a duplicated message or
a lost link would pass a broken xstream; this proves, on every run, that it does not.

Injected (one each): a workspace for a customer that must have none; a changed attribute value in
a workspace; a link removed from a customer record (by an ERP user); a second effective xstream write
to another customer record, with an Idempotency-Key no status event carries; a second approval for an
approved document; a second chat message for a notified document; a dead letter for no record of the
scenario.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import AIOKafkaProducer

from tests.chaos.count import Counts
from tests.chaos.scenario import customer_bo
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest
from xstream.topics import Role

if TYPE_CHECKING:
    from tests.chaos.scenario import ContractScenario, CustomerScenario, ExpectedEffects
    from tests.chaos.stack import ChaosStack
    from tests.chaos.suite import Tracker


@dataclass
class Check:
    what: str
    row: str
    column: str
    expected: int = 1
    got: int = 0

    @property
    def ok(self) -> bool:
        return self.got == self.expected


async def self_check(stack: ChaosStack, tracker: Tracker, client: OpenTextClient, customers: CustomerScenario,
                     contracts: ContractScenario, expected: ExpectedEffects, before: Counts,
                     recount: Callable[[], Any]) -> list[Check]:
    try:
        return await _self_check(stack, tracker, client, customers, contracts, expected, before, recount)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, the run's counts stand
        return [Check(f"could not inject the anomalies: {type(exc).__name__}: {exc}", "-", "-", 0, -1)]


async def _self_check(stack: ChaosStack, tracker: Tracker, client: OpenTextClient, customers: CustomerScenario,
                      contracts: ContractScenario, expected: ExpectedEffects, before: Counts,
                      recount: Callable[[], Any]) -> list[Check]:
    opentext = await stack.admin("opentext", "state")
    erp = await stack.admin("erp", "state")
    records = {str(r["id"]): r for r in erp["records"].get("customers", [])}
    by_bo: dict[str, list[dict[str, Any]]] = {}
    for ws in opentext["workspaces"]:
        for bo in ws["business_objects"]:
            by_bo.setdefault(f"{bo['ext_system_id']}/{bo['bo_type']}/{bo['bo_id']}", []).append(ws)
    sound = [b for b in sorted(customers.linked)
             if len(by_bo.get(customer_bo(b), [])) == 1 and records.get(b, {}).get("workspace_id")]
    checks: list[Check] = []
    if len(sound) < 3:
        return [Check("not enough sound customers to inject anomalies into", "-", "-", 0, -1)]
    stale, unlinked, rewritten = sound[-1], sound[-2], sound[-3]

    # a workspace for a customer that must have none (OpenText refuses a second workspace for one business
    # object, 400 "already linked", so a duplicate workspace cannot be made, only an unexpected one)
    one_time = sorted(customers.without_workspace - {b for b in customers.without_workspace if customer_bo(b) in by_bo})
    template = by_bo[customer_bo(stale)][0]
    await client.create_workspace(WorkspaceCreateRequest(
        template_id=template["template_id"], wksp_type_id=template["wksp_type_id"], name="self-check workspace",
        business_object=BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="KNA1",
                                          bo_id=one_time[0] if one_time else "0000999000")))
    checks.append(Check("a workspace for a customer that must have none", "workspaces", "unexpected"))
    # an attribute value that is not the last event's
    await client.update_categories(by_bo[customer_bo(stale)][0]["id"], {"Customer": {"Status": "self-check"}})
    checks.append(Check(f"Status of {stale}'s workspace changed", "attribute values", "lost"))
    # a link removed (an ERP user clears it)
    await stack.admin("erp", f"records/customers/{unlinked}", "PATCH", {"workspace_id": None, "workspace_url": None})
    checks.append(Check(f"link of {unlinked} removed", "links back", "lost"))
    # a second effective xstream write, with a key no status event carries
    headers = {"X-Xstream-Origin": "xstream", "Idempotency-Key": f'"chaos-self-check-{time.time_ns()}"'}
    async with stack.http().patch(f"{stack.erp.url}/customers/{rewritten}", json={"note": "self-check"},
                                  headers=headers) as resp:
        resp.raise_for_status()
    checks.append(Check(f"second xstream write to {rewritten}", "links back", "duplicated"))
    checks.append(Check("an applied ERP key without status event", "status events", "lost"))
    # a second approval and a second message
    docs = {d.node_id: d for d in contracts.documents}
    if expected.approvals:
        node, process = sorted(expected.approvals)[0]
        doc = docs[node]
        body = {"process": process, "subject": "self-check", "reference": {"document_id": node},
                "record": {"entity": "suppliers", "id": doc.supplier_id}}
        async with stack.http().post(f"{stack.erp.url}/approvals", json=body) as resp:
            resp.raise_for_status()
        checks.append(Check(f"second approval for {doc.document_name}", "approvals", "duplicated"))
    if expected.messages:
        node, channel = sorted(expected.messages)[0]
        async with stack.http().post(stack.chat.channel_url(channel, "slack"),
                                     json={"text": f"self-check again: {docs[node].document_name}"}) as resp:
            resp.raise_for_status()
        checks.append(Check(f"second message about {docs[node].document_name} in #{channel}", "notifications",
                            "duplicated"))
    # a dead letter of no scenario record
    seen = len(tracker.dead_letters)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        letter = {"reason": "self_check", "stage": "decode", "detail": "injected by the crash suite",
                  "source": {"topic": "chaos-self-check", "partition": 0, "offset": 0}}
        await producer.send_and_wait(stack.topic(Role.DEAD_LETTER), key=b"self-check", value=orjson.dumps(letter))
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tracker.update()
        if len(tracker.dead_letters) > seen:
            break
        await asyncio.sleep(0.2)
    checks.append(Check("a dead letter of no scenario record", "dead letters", "unexpected"))

    after: Counts = await recount()
    columns = ("lost", "duplicated", "unexpected")
    deltas = {(r.kind, c): getattr(after.row(r.kind), c) - getattr(r, c) for r in before.rows for c in columns}
    wanted: dict[tuple[str, str], int] = {}
    for check in checks:
        wanted[(check.row, check.column)] = wanted.get((check.row, check.column), 0) + check.expected
    for check in checks:
        total = deltas.get((check.row, check.column), 0)
        check.got = check.expected if total == wanted[(check.row, check.column)] else total
    for (row, column), delta in deltas.items():
        if delta and (row, column) not in wanted:
            checks.append(Check(f"nothing injected, yet {row}/{column} moved", row, column, 0, delta))
    return checks
