"""Fault injection and the Debezium-shaped change log of the ERP emulator."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from xstream_emulators.erp import (
    ErpEmulatorConfig,
    Faults,
    FaultSpecError,
    parse_fault_flags,
    start_erp_emulator,
)

from tests.unit.emulators_erp.conftest import Erp


@pytest.mark.parametrize(("kind", "status", "code"), [("500", 500, "internal_error"),
                                                      ("503", 503, "service_unavailable"),
                                                      ("429", 429, "rate_limited")])
async def test_injected_errors_change_nothing(erp: Erp, kind: str, status: int, code: str) -> None:
    created = await erp.customer()
    await erp.admin("POST", "faults", {"error_rate": 1.0, "error_kind": kind, "retry_after_s": 1.5})
    reply = await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"}, key="k")
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    if kind != "500":
        assert reply.headers["Retry-After"] == "2"
    state = await erp.admin("GET", "state")
    assert state["state_changing"] == 1 and "owner" not in state["records"]["customers"][0]
    assert (await erp.admin("GET", "faults"))["injected"] == 1


async def test_faults_only_for_the_named_operations(erp: Erp) -> None:
    created = await erp.customer()
    await erp.admin("POST", "faults", {"error_rate": 1.0, "operations": ["records.patch"]})
    assert (await erp.call("GET", f"/customers/{created['id']}")).status == 200
    assert (await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"})).status == 500


async def test_a_hang_never_answers(erp: Erp) -> None:
    await erp.admin("POST", "faults", {"hang_rate": 1.0})
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await erp.call("GET", "/customers", timeout=aiohttp.ClientTimeout(total=0.3))
    assert time.monotonic() - started >= 0.3
    await erp.admin("POST", "faults", {})
    assert (await erp.call("GET", "/customers")).status == 200


async def test_latency(erp: Erp) -> None:
    await erp.admin("POST", "faults", {"latency_ms": [150, 150]})
    started = time.monotonic()
    await erp.call("GET", "/customers")
    assert time.monotonic() - started >= 0.14


async def test_bad_fault_specs_are_400(erp: Erp) -> None:
    for spec in ({"error_rate": 2}, {"error_kind": "404"}, {"latency_ms": [5, 1]}, {"bogus": 1},
                 {"expire_tokens": "yes"}):
        async with erp.http.post(f"{erp.emu.admin_url}/faults", json=spec) as r:
            assert r.status == 400, spec


def test_parse_fault_flags() -> None:
    faults = parse_fault_flags("latency_ms=5-50,error_rate=0.1,error_kind=429,retry_after_s=2,hang_rate=0.01,"
                               "operations=records.patch|records.create")
    assert faults == Faults((5.0, 50.0), 0.1, "429", 2.0, 0.01, ("records.patch", "records.create"))
    assert parse_fault_flags("") == Faults()
    for bad in ("nope=1", "error_rate", "error_rate=x", "error_kind=418"):
        with pytest.raises(FaultSpecError):
            parse_fault_flags(bad)


async def test_initial_faults_come_back_on_reset(http: aiohttp.ClientSession) -> None:
    config = ErpEmulatorConfig(faults=parse_fault_flags("error_rate=1,operations=records.patch"))
    async with await start_erp_emulator(config) as emu:
        erp = Erp(http, emu, {})
        await erp.admin("POST", "faults", {})
        await erp.admin("POST", "reset")
        assert (await erp.admin("GET", "faults"))["error_rate"] == 1.0


async def test_change_log_is_debezium_shaped_with_increasing_lsn(erp: Erp) -> None:
    created = await erp.customer()
    await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"},
                   headers={"X-Xstream-Origin": "xstream", "X-Xstream-Causation": "opentext/ws/n:5"})
    await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"})  # no change, no event
    await erp.call("POST", "/suppliers", {"name": "S"})
    log = await erp.admin("GET", "changes")
    changes = log["changes"]
    assert [(c["entity"], c["value"]["op"]) for c in changes] == [("customers", "c"), ("customers", "u"),
                                                                 ("suppliers", "c")]
    lsns = [c["lsn"] for c in changes]
    assert lsns == sorted(set(lsns)) and log["last_lsn"] == lsns[-1]
    create, update = changes[0]["value"], changes[1]["value"]
    assert create["before"] is None and create["after"] == created
    assert changes[1]["key"] == {"id": created["id"]}
    assert update["before"] == created and update["after"]["owner"] == "x"
    assert update["after"]["last_changed_by"] == "xstream" and update["after"]["last_causation"] == "opentext/ws/n:5"
    source = update["source"]
    assert {k: source[k] for k in ("connector", "name", "db", "schema", "table", "snapshot")} == {
        "connector": "postgresql", "name": "erp", "db": "erp", "schema": "public", "table": "customers",
        "snapshot": "false"}
    assert source["lsn"] == changes[1]["lsn"] and isinstance(update["ts_ms"], int)
    since = await erp.admin("GET", "changes", params={"since": str(lsns[0])})
    assert [c["lsn"] for c in since["changes"]] == lsns[1:]
    only = await erp.admin("GET", "changes", params={"entity": "suppliers"})
    assert [c["lsn"] for c in only["changes"]] == lsns[2:]
    async with erp.http.get(f"{erp.emu.admin_url}/changes", params={"entity": "planets"}) as r:
        assert r.status == 404


async def test_admin_records_act_as_an_erp_user_and_go_through_the_change_log(erp: Erp) -> None:
    record = await erp.admin("POST", "records/customers", {"id": "0000100001", "name": "Acme"})
    assert record["last_changed_by"] == "erp-user"
    changed = await erp.admin("PATCH", "records/customers/0000100001", {"status": "blocked"})
    assert changed["status"] == "blocked" and changed["version"] == 2
    ops = [c["value"]["op"] for c in (await erp.admin("GET", "changes"))["changes"]]
    assert ops == ["c", "u"]
    assert (await erp.calls())["state_changing"] == 2  # admin calls are not counted as operations
    assert set(await erp.calls()) == {"state_changing"}


async def test_seed_records_are_snapshot_reads_and_reset_restores_them(http: aiohttp.ClientSession) -> None:
    config = ErpEmulatorConfig(seed={"customers": [{"id": "1", "name": "Acme"}, {"name": "Globex"}]})
    async with await start_erp_emulator(config) as emu:
        erp = Erp(http, emu, {})
        changes = (await erp.admin("GET", "changes"))["changes"]
        assert [(c["value"]["op"], c["value"]["source"]["snapshot"]) for c in changes] == [("r", "true")] * 2
        assert (await erp.calls())["state_changing"] == 0
        await erp.customer()
        await erp.admin("POST", "reset")
        state = await erp.admin("GET", "state")
        assert state["counts"]["customers"] == 2 and state["changes"] == 2
        assert {r["last_changed_by"] for r in state["records"]["customers"]} == {"erp-user"}


def test_config_checks() -> None:
    with pytest.raises(ValueError):
        ErpEmulatorConfig(base_path="/admin")
    with pytest.raises(ValueError):
        ErpEmulatorConfig(seed={"planets": []})
    assert ErpEmulatorConfig(base_path="erp/v1/").base_path == "/erp/v1"
