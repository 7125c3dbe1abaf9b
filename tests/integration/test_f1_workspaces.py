"""Flow F1 end to end on a real broker: ERP customer CDC -> one OpenText workspace each -> status events."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import aiohttp
import orjson
import pytest

from tests.integration.conftest import Stack
from xstream.demo import scenario as sc
from xstream.demo.harness import Collector, produce
from xstream.demo.scenario import CdcRecord
from xstream.topics import Role
from xstream.transform.rule_files import SAMPLE_RULES, load_rule_files

pytestmark = pytest.mark.integration
TIMEOUT_S = 90.0


def decoded(collector: Collector, topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in collector.records[topic]]


def statuses(collector: Collector, stack: Stack, target: str = "opentext") -> list[dict[str, Any]]:
    return [s for s in decoded(collector, stack.topic(Role.STATUS)) if s["target"] == target]


def workspaces_by_bo(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for ws in state["workspaces"]:
        for bo in ws["business_objects"]:
            found.setdefault(f"{bo['ext_system_id']}/{bo['bo_type']}/{bo['bo_id']}", []).append(ws)
    return found


async def seed_erp(stack: Stack, scenario: sc.Scenario) -> None:
    """The customers exist in the ERP, so the workspace links can be written back to them."""
    for bo_id, row in scenario.customers.items():
        await stack.admin("records/customers", "POST", {**row, "id": bo_id}, target="erp")


async def run_scenario(stack: Stack, scenario: sc.Scenario, **worker_env: str) -> Collector:
    await seed_erp(stack, scenario)
    dlq = stack.topic(Role.DEAD_LETTER)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    worker = stack.start_worker(**worker_env)
    await produce(stack.broker.bootstrap, stack.cdc_topic, scenario.records)
    ok = await collector.wait_for(
        lambda: (len(statuses(collector, stack)) >= scenario.expected_commands
                 and len(statuses(collector, stack, "erp")) >= scenario.expected_link_backs
                 and len(collector.records[dlq]) >= scenario.expected_dead_letters) or not worker.running,
        TIMEOUT_S)
    assert ok and worker.running, stack.logs()
    return collector


async def test_customers_become_exactly_one_workspace_each_with_status_events(stack: Stack) -> None:
    scenario = sc.build()
    collector = await run_scenario(stack, scenario)
    state = await stack.admin("state")

    by_bo = workspaces_by_bo(state)
    assert len(state["workspaces"]) == len(scenario.customers)
    regions = {"EMEA": "Europe", "AMER": "Americas", "APAC": "Asia Pacific"}
    for bo_id, row in scenario.final.items():
        (ws,) = by_bo[f"SAP_PRD/KNA1/{bo_id}"]
        assert ws["name"] == f"{scenario.customers[bo_id]['name']} ({bo_id})"
        assert ws["wksp_type_name"] == "Customer"
        values = set(map(str, ws["categories"].values()))
        assert {bo_id, row["name"], row["owner"], row["status"], regions[row["region"]]} <= values, bo_id

    opentext = statuses(collector, stack)
    assert Counter(s["outcome"] for s in opentext) == {"applied": scenario.expected_applied,
                                                       "already_applied": scenario.expected_already_applied}
    created = {s["business_object"]["bo_id"]: s for s in opentext
               if s["outcome"] == "applied" and s["command_kind"] == "ensure_workspace"}
    erp = await stack.admin("state", target="erp")
    records = {r["id"]: r for r in erp["records"]["customers"]}
    for bo_id, status in created.items():
        (ws,) = by_bo[f"SAP_PRD/KNA1/{bo_id}"]
        assert status["workspace"]["node_id"] == ws["id"]
        assert status["workspace"]["url"].endswith(f"/app/nodes/{ws['id']}")
        assert status["causation"]["source_system"] == "erp"
        # F4: the workspace link went back to the ERP record, written by xstream
        assert records[bo_id]["workspace_url"] == status["workspace"]["url"]
        assert records[bo_id]["last_changed_by"] == "xstream"
    status_keys = {r.key for r in collector.records[stack.topic(Role.STATUS)]}
    assert status_keys == {f"SAP_PRD/KNA1/{b}".encode() for b in scenario.customers}


async def quiet(collector: Collector, topic: str, seconds: float = 3.0) -> None:
    """Wait until ``topic`` has received nothing new for ``seconds``."""
    last, since = -1, 0.0
    while since < seconds:
        count = len(collector.records[topic])
        since = since + 0.5 if count == last else 0.0
        last = count
        await collector.wait_for(lambda: False, 0.5)


async def test_replaying_every_topic_from_offset_0_changes_nothing_in_either_emulator(stack: Stack) -> None:
    scenario = sc.build(customers=20, snapshot_reads=5, updates=30, replays=5)  # some customers change twice
    collector = await run_scenario(stack, scenario)
    status_topic = stack.topic(Role.STATUS)
    await quiet(collector, status_topic)
    stack.workers[-1].stop()
    opentext_calls = await stack.admin("calls")
    erp_before = await stack.admin("calls", target="erp")
    erp_keys_before = (await stack.admin("state", target="erp"))["idempotency_keys"]
    seen_before = len(collector.records[status_topic])

    # A new deployment (new consumer groups) reads every input, command and status topic from offset 0.
    stack.start_worker(app_id="xstream-replayed")
    assert await collector.wait_for(
        lambda: len(collector.records[status_topic]) >= seen_before + 2 * scenario.expected_commands, TIMEOUT_S
    ), stack.logs()
    await quiet(collector, status_topic)

    new = decoded(collector, status_topic)[seen_before:]
    assert {s["outcome"] for s in new} == {"already_applied"}
    calls = await stack.admin("calls")
    changing = ("workspaces.create", "categories.update", "categories.apply", "nodes.create", "nodes.update")
    assert {op: calls.get(op, 0) for op in changing} == {op: opentext_calls.get(op, 0) for op in changing}
    assert calls.get("workspaces.search", 0) == opentext_calls.get("workspaces.search", 0)  # answered by the ledger
    erp_after = await stack.admin("calls", target="erp")
    assert erp_after["state_changing"] == erp_before["state_changing"]
    # re-sent link writes carry their original Idempotency-Key: answered from the store, none executed again
    assert (await stack.admin("state", target="erp"))["idempotency_keys"] == erp_keys_before
    assert len((await stack.admin("state"))["workspaces"]) == len(scenario.customers)


async def test_out_of_order_updates_never_overwrite_a_newer_change(stack: Stack) -> None:
    scenario = sc.build(customers=3, snapshot_reads=0, updates=0, replays=0)
    row = scenario.customers["0000100001"]
    newer = {**row, "status": "blocked"}
    older = {**row, "status": "on_hold"}
    key = b'{"customer_id": "0000100001"}'
    # the newer change (lsn 9000) arrives before an older one (lsn 8000), e.g. after a connector re-send
    scenario.records += [sc.CdcRecord(key, sc._envelope("u", row, newer, 9000, wrapped=True), "update"),
                         sc.CdcRecord(key, sc._envelope("u", row, older, 8000, wrapped=True), "late update")]
    scenario.final["0000100001"] = newer
    scenario.expect(load_rule_files([SAMPLE_RULES]))
    scenario.expected_applied -= 1  # the late update is stale: already_applied, not applied
    scenario.expected_already_applied += 1
    collector = await run_scenario(stack, scenario)
    by_bo = workspaces_by_bo(await stack.admin("state"))
    (ws,) = by_bo["SAP_PRD/KNA1/0000100001"]
    assert "blocked" in ws["categories"].values() and "on_hold" not in ws["categories"].values()
    late = [s for s in statuses(collector, stack) if s["causation"]["source_position"] == "lsn:8000"]
    assert [s["outcome"] for s in late] == ["already_applied"]


async def test_malformed_records_are_dead_lettered_and_the_flow_goes_on(stack: Stack) -> None:
    scenario = sc.build(customers=3, snapshot_reads=0, updates=0, replays=0)
    key = b'{"customer_id": "0000100001"}'  # same key => same partition as a good record after it
    bad = [
        CdcRecord(key, b'{"op": "c", "after": {', "malformed"),
        CdcRecord(key, b'{"op": "c", "before": null}', "no after"),
        CdcRecord(key, b'{"id": 1}', "not an envelope"),
        CdcRecord(key, orjson.dumps({"op": "c", "after": {"name": "no id"}, "source": {"table": "customers"}}),
                  "no business object id"),
    ]
    scenario.records[:0] = bad
    scenario.records = [r for r in scenario.records if r.label not in ("malformed JSON", "unknown op")]
    scenario.expected_dead_letters = len(bad)
    collector = await run_scenario(stack, scenario)

    letters = decoded(collector, stack.topic(Role.DEAD_LETTER))
    assert sorted(letter["reason"] for letter in letters) == sorted(
        ["malformed_json", "missing_field", "wrong_envelope", "missing_field"])
    assert all(letter["detail"] and letter["source"]["topic"] == stack.cdc_topic for letter in letters)
    malformed = next(letter for letter in letters if letter["reason"] == "malformed_json")
    original = b'{"op": "c", "after": {'
    assert malformed["value"] == {"encoding": "utf-8", "data": original.decode(), "size": len(original),
                                  "truncated": False, "sha256": hashlib.sha256(original).hexdigest()}
    assert malformed["key"]["data"] == key.decode()
    assert len((await stack.admin("state"))["workspaces"]) == 3


async def test_transient_opentext_failures_are_retried_without_duplicates(stack: Stack) -> None:
    await stack.admin("faults", "POST", {"error_rate": 0.3, "error_kind": "503", "retry_after_s": 0.05})
    scenario = sc.build(customers=15, snapshot_reads=0, updates=5, replays=3)
    # budgets sized for a 30% error rate: this test is about retries without duplicates, not pauses
    await run_scenario(stack, scenario, XSTREAM_RETRY__ATTEMPTS="12", XSTREAM_RETRY__BASE_DELAY_S="0.02",
                       XSTREAM_OPENTEXT__BREAKER__FAILURE_THRESHOLD="50", XSTREAM_OPENTEXT__BREAKER__RESET_AFTER_S="2")
    state = await stack.admin("state")
    assert all(len(found) == 1 for found in workspaces_by_bo(state).values())
    assert len(state["workspaces"]) == 15
    async with aiohttp.ClientSession() as http, http.get(f"{stack.workers[-1].base_url}/metrics") as resp:
        metrics = await resp.text()
    retries = [line for line in metrics.splitlines() if line.startswith("xstream_sink_retries_total")]
    assert retries and float(retries[0].rsplit(" ", 1)[1]) > 0


async def test_a_worker_killed_mid_flow_is_replaced_without_duplicates(stack: Stack) -> None:
    scenario = sc.build(customers=30, snapshot_reads=0, updates=0, replays=0)
    status_topic = stack.topic(Role.STATUS)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    await stack.admin("faults", "POST", {"latency_ms": [20, 40]})
    first = stack.start_worker()
    await produce(stack.broker.bootstrap, stack.cdc_topic, scenario.records)
    assert await collector.wait_for(lambda: len(collector.records[status_topic]) >= 5, TIMEOUT_S), stack.logs()
    first.kill()
    stack.start_worker()  # same consumer groups: resumes from the last committed offsets
    customers = {f"SAP_PRD/KNA1/{b}" for b in scenario.customers}

    async def all_present() -> bool:
        return set(workspaces_by_bo(await stack.admin("state"))) >= customers

    done = False
    for _ in range(int(TIMEOUT_S / 0.5)):
        if await all_present():
            done = True
            break
        await collector.wait_for(lambda: False, 0.5)
    assert done, stack.logs()
    state = await stack.admin("state")
    assert all(len(found) == 1 for found in workspaces_by_bo(state).values())
    assert len(state["workspaces"]) == 30
    # at-least-once: every command has a status event (a repeat after the crash says already_applied)
    keys = {f"SAP_PRD/KNA1/{b}".encode() for b in scenario.customers}
    assert await collector.wait_for(lambda: {r.key for r in collector.records[status_topic]} >= keys, TIMEOUT_S)


async def test_worker_serves_health_readiness_and_metrics(stack: Stack) -> None:
    scenario = sc.build(customers=2, snapshot_reads=0, updates=0, replays=0)
    await run_scenario(stack, scenario)
    base = stack.workers[-1].base_url
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{base}/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["ready"] is True
        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
    assert f'xstream_commands_total{{outcome="applied",sink="opentext"}} {scenario.expected_applied}.0' in text
    assert f'xstream_commands_total{{outcome="applied",sink="erp"}} {scenario.expected_link_backs}.0' in text
    assert 'xstream_tombstones_total' in text and 'xstream_dead_letters_total' in text
