"""What users see when OpenText refuses a command or stays down: nothing lost, every outcome published."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import seed_erp, statuses
from xstream.demo import scenario as sc
from xstream.demo.harness import produce
from xstream.topics import Role
from xstream.transform.rule_files import SAMPLE_RULES

pytestmark = pytest.mark.integration
TIMEOUT_S = 90.0


async def test_a_command_opentext_cannot_take_is_rejected_dead_lettered_and_the_rest_applied(
    stack: Stack, tmp_path: Path
) -> None:
    # An operator typo: an attribute the Customer category does not have, for customers in APAC only.
    rules = tmp_path / "rules.yaml"
    rules.write_text(SAMPLE_RULES.read_text().replace(
        "      Customer:\n        Account Number: customer_id",
        "      Customer:\n        Account Number: customer_id\n        Credit Limit:\n          field: credit_limit",
    ))
    scenario = sc.build(customers=12, snapshot_reads=0, updates=0, replays=0)
    scenario.records = [
        r if not (r.value and r.label == "create") else sc.CdcRecord(r.key, _with_limit(r.value), r.label)
        for r in scenario.records
    ]
    apac = {b for b, row in scenario.customers.items() if row["region"] == "APAC"}
    assert apac and len(apac) < 12
    dlq = stack.topic(Role.DEAD_LETTER)
    await seed_erp(stack, scenario)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(XSTREAM_WORKER__RULES_FILE=str(rules))
    await produce(stack.broker.bootstrap, stack.cdc_topic, scenario.records)
    assert await collector.wait_for(lambda: len(ensured(collector, stack)) >= 12, TIMEOUT_S), stack.logs()
    assert await collector.wait_for(lambda: len(collector.records[dlq]) >= len(apac) + 2, TIMEOUT_S), stack.logs()

    outcomes = {s["business_object"]["bo_id"]: s for s in ensured(collector, stack)}
    assert {b for b, s in outcomes.items() if s["outcome"] == "rejected"} == apac
    assert all("Credit Limit" in outcomes[b]["reason"] for b in apac)
    assert Counter(s["outcome"] for s in outcomes.values())["applied"] == 12 - len(apac)
    letters = [orjson.loads(r.value) for r in collector.records[dlq]]
    sink_letters = [letter for letter in letters if letter["stage"] == "sink"]
    assert {letter["idempotency_key"] for letter in sink_letters} == {outcomes[b]["idempotency_key"] for b in apac}
    assert all(letter["reason"] == "mapping_failed" for letter in sink_letters)
    assert len((await stack.admin("state"))["workspaces"]) == 12 - len(apac)


def ensured(collector, stack: Stack) -> list[dict]:
    """OpenText outcomes of ensure_workspace commands (creates, snapshot reads)."""
    return [s for s in statuses(collector, stack) if s["command_kind"] == "ensure_workspace"]


def _with_limit(value: bytes) -> bytes:
    doc = orjson.loads(value)
    row = doc.get("payload", doc)["after"]
    if row["region"] == "APAC":
        row["credit_limit"] = 5000
    return orjson.dumps(doc)


async def test_when_opentext_stays_down_partitions_pause_and_nothing_is_lost(stack: Stack) -> None:
    await stack.admin("faults", "POST", {"error_rate": 1.0, "error_kind": "html500"})
    scenario = sc.build(customers=8, snapshot_reads=0, updates=0, replays=0)
    await seed_erp(stack, scenario)
    collector = await stack.collect(Role.STATUS)
    worker = stack.start_worker(XSTREAM_RETRY__ATTEMPTS="2", XSTREAM_RETRY__BASE_DELAY_S="0.05",
                                XSTREAM_RETRY__PAUSE_S="1", XSTREAM_OBSERVABILITY__STALL_AFTER_S="1")
    await produce(stack.broker.bootstrap, stack.cdc_topic, scenario.records)

    async def pauses() -> float:
        async with aiohttp.ClientSession() as http, http.get(f"{worker.base_url}/metrics") as resp:
            text = await resp.text()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("xstream_partition_pauses_total"))

    for _ in range(int(TIMEOUT_S / 0.5)):
        if worker.running and await _safe(pauses) >= 2:
            break
        await collector.wait_for(lambda: False, 0.5)
    assert await pauses() >= 2, stack.logs()
    assert statuses(collector, stack) == []  # nothing acknowledged while OpenText is down
    # waiting for OpenText is on purpose: the worker stays ready (a restart would not help), /status says why
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{worker.base_url}/readyz") as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(f"{worker.base_url}/status") as resp:
            doc = await resp.json()
    held = [p["held"] for p in doc["sink:opentext"]["partitions"].values() if p["held"]]
    assert held and all("opentext" in why for why in held), doc
    assert "HTTP 500" in (doc["sink:opentext"]["last_error"] or ""), doc["sink:opentext"]

    await stack.admin("faults", "POST", {"error_rate": 0.0})
    assert await collector.wait_for(lambda: len(statuses(collector, stack)) >= scenario.expected_commands,
                                    TIMEOUT_S), stack.logs()
    assert Counter(s["outcome"] for s in statuses(collector, stack)) == {"applied": scenario.expected_applied}
    assert len((await stack.admin("state"))["workspaces"]) == 8


async def _safe(probe) -> float:
    try:
        return await probe()
    except aiohttp.ClientError:
        return 0.0


async def test_an_oversize_record_is_dead_lettered_truncated_and_the_flow_goes_on(stack: Stack) -> None:
    scenario = sc.build(customers=2, snapshot_reads=0, updates=0, replays=0)
    big = orjson.dumps({"op": "c", "after": {"customer_id": "0000100000", "notes": "x" * 200_000},
                        "source": {"table": "customers"}})
    scenario.records.insert(0, sc.CdcRecord(b'{"customer_id": "0000100000"}', big, "oversize"))
    status, dlq = stack.topic(Role.STATUS), stack.topic(Role.DEAD_LETTER)
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(XSTREAM_WORKER__MAX_RECORD_BYTES="100000")
    await produce(stack.broker.bootstrap, stack.cdc_topic, scenario.records)
    def workspace_statuses() -> int:
        return sum(orjson.loads(r.value)["target"] == "opentext" for r in collector.records[status])

    assert await collector.wait_for(lambda: len(collector.records[dlq]) >= 3 and workspace_statuses() >= 2,
                                    TIMEOUT_S), stack.logs()
    letters = [orjson.loads(r.value) for r in collector.records[dlq]]
    oversize = next(letter for letter in letters if letter["reason"] == "oversize")
    assert oversize["value"]["size"] == len(big) and oversize["value"]["truncated"] is True
    assert len(oversize["value"]["data"]) < len(big)
    assert len((await stack.admin("state"))["workspaces"]) == 2
