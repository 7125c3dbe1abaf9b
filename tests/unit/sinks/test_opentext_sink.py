"""The OpenText sink against the emulator, one command at a time: results, idempotency (the ledger on
the in-memory Kafka log, what a second worker or a new deployment sees), stale events, type checks.

Order per business object, retries and the breaker are the runner's (tests/unit/test_runner.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.support.memory_log import MemoryLog
from tests.unit.clients.support import start_typed_emulator
from tests.unit.sinks.support import (
    LEDGER_TOPIC,
    assert_pending_until_delivered,
    ledger_store,
    only,
    partition_of,
)
from xstream.clients.opentext import OpenTextClient
from xstream.dryrun.mapping import create_request_of
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, EnsureWorkspace, UpdateWorkspace
from xstream.model.position import position_order
from xstream.model.status import Outcome
from xstream.settings import OpenTextSettings
from xstream.sinks.ledger import Ledger
from xstream.sinks.opentext import OpenTextSink
from xstream.transform.catalog import load_catalog
from xstream.transform.opentext_requests import put_body


def command(bo_id: str, offset: int, *, position: str | None = None, **overrides: Any) -> EnsureWorkspace:
    fields = dict(
        idempotency_key=f"{bo_id}-{offset}".ljust(16, "0"),
        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id=bo_id),
        workspace_type="Customer", template="Customer Template", name=f"Customer {bo_id}",
        categories={"Customer": {"Account Number": bo_id, "Region": "Europe"}},
        causation=Causation(source_system="erp", entity="customers", op="c",
                            source_position=position or f"lsn:{offset}", topic="erp.cdc.customers", partition=0,
                            offset=offset),
    )
    return EnsureWorkspace(**{**fields, **overrides})


def update(bo_id: str, offset: int, changed: dict, *, position: str | None = None, **overrides: Any) -> UpdateWorkspace:
    base = command(bo_id, offset, position=position)
    fields = {**base.model_dump(exclude={"kind"}), "changed": changed, **overrides}
    fields["causation"] = base.causation.model_copy(update={"op": "u"})
    return UpdateWorkspace(**fields)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_typed_emulator() as running:  # the seeded types and a typed "Contract"
        yield running


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
async def deploy(emulator: RunningEmulator) -> AsyncIterator[Any]:
    """A worker (sink, client and ledger store) over a log; a second call is a new deployment."""
    sinks: list[OpenTextSink] = []

    async def make(log: MemoryLog) -> OpenTextSink:
        settings = OpenTextSettings(base_url=emulator.url, public_url="https://ecm.example.com/otcs/cs")
        sink = OpenTextSink(settings, Ledger(await ledger_store(log), position_order), OpenTextClient(settings))
        await sink.start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        await sink.close()


@pytest.fixture
async def sink(deploy: Any, log: MemoryLog) -> OpenTextSink:
    return await deploy(log)


async def admin(emulator: RunningEmulator, what: str, method: str = "GET", json: object = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, f"{emulator.admin_url}/{what}", json=json) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def workspaces(emulator: RunningEmulator) -> list[dict]:
    return (await admin(emulator, "state"))["workspaces"]


async def category_values(emulator: RunningEmulator) -> list[dict]:
    return [ws["categories"] for ws in await workspaces(emulator)]


async def test_results_per_command(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    first = await sink.apply(command("1", 1))
    again = await sink.apply(command("1", 2))  # a newer ensure of the same object: found, nothing to change
    vendor = await sink.apply(command("2", 3, workspace_type="Vendor"))
    shoe = await sink.apply(command("3", 4, categories={"Customer": {"Shoe Size": 44}}))
    assert [r.outcome for r in (first, again, vendor, shoe)] == [Outcome.APPLIED, Outcome.ALREADY_APPLIED,
                                                                 Outcome.REJECTED, Outcome.REJECTED]
    assert first.created and not again.created
    assert first.workspace is not None and again.workspace == first.workspace
    assert first.workspace.url == f"https://ecm.example.com/otcs/cs/app/nodes/{first.workspace.node_id}"
    assert vendor.reason is DeadLetterReason.MAPPING_FAILED and "Vendor" in (vendor.detail or "")
    assert shoe.reason is DeadLetterReason.MAPPING_FAILED and "Shoe Size" in (shoe.detail or "")
    (ws,) = await workspaces(emulator)
    assert ws["id"] == first.workspace.node_id
    assert sorted(map(str, ws["categories"].values())) >= ["1", "Europe"]
    assert (await admin(emulator, "calls"))["workspaces.create"] == 1


async def test_a_replayed_command_is_answered_from_the_ledger(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    applied = await sink.apply(command("7", 1))
    calls_before = await admin(emulator, "calls")
    replayed = await sink.apply(command("7", 1))
    assert (applied.outcome, replayed.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert replayed.workspace == applied.workspace
    assert await admin(emulator, "calls") == calls_before


async def test_a_transient_failure_is_unfinished_and_the_retry_applies_once(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    await sink.apply(command("warm-up", 0))  # types and forms cached, so the next calls are lookups/creates
    await admin(emulator, "faults", "POST", {"error_rate": 1.0, "error_kind": "503", "retry_after_s": 2})
    failed = await sink.apply(command("8", 1))
    assert not failed.finished and failed.outcome is None and failed.retry_after == 2
    await admin(emulator, "faults", "POST", {"error_rate": 0.0})
    retried = await sink.apply(command("8", 1))
    assert retried.outcome is Outcome.APPLIED and retried.created
    later = await sink.apply(command("8", 2))
    assert later.outcome is Outcome.ALREADY_APPLIED and later.workspace == retried.workspace
    assert (await admin(emulator, "calls"))["workspaces.create"] == 2  # warm-up and "8", once


async def test_an_update_sends_only_the_changed_attributes(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    await sink.apply(command("9", 1))
    calls = await admin(emulator, "calls")
    result = await sink.apply(update("9", 2, {"Customer": {"Region": "Asia Pacific"}}))
    assert result.outcome is Outcome.APPLIED and not result.created
    after = await admin(emulator, "calls")
    assert after.get("categories.update", 0) - calls.get("categories.update", 0) == 1
    assert after.get("workspaces.create", 0) == calls.get("workspaces.create", 0)
    (values,) = await category_values(emulator)
    assert "Asia Pacific" in values.values() and "9" in values.values()


async def test_an_update_of_a_known_workspace_is_one_put_and_nothing_else(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    """The ledger knows the workspace and the create form gives the keys: no lookup, no read, one PUT."""
    await sink.apply(command("9b", 1))
    calls = await admin(emulator, "calls")
    result = await sink.apply(update("9b", 2, {"Customer": {"Region": "Asia Pacific"}}))
    assert result.outcome is Outcome.APPLIED and result.workspace is not None
    after = await admin(emulator, "calls")
    assert {op: n - calls.get(op, 0) for op, n in after.items() if n != calls.get(op, 0)} == {"categories.update": 1}
    (ws,) = await workspaces(emulator)
    assert "Asia Pacific" in ws["categories"].values()


async def test_a_known_workspace_that_lost_its_category_is_read_and_repaired(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    """A direct PUT the node refuses (its category was removed in OpenText) falls back to the reading
    path, which applies the category again and writes the value."""
    first = await sink.apply(command("9c", 1))
    assert first.workspace is not None
    node = first.workspace.node_id
    state = await admin(emulator, "state")
    (cat_id,) = {k.split("_")[0] for ws in state["workspaces"] if ws["id"] == node for k in ws["categories"]}
    # a user removes the category in OpenText (through the REST API, with the sink's own session)
    await sink._client._call("categories.delete", "DELETE", f"/api/v2/nodes/{node}/categories/{cat_id}")
    result = await sink.apply(update("9c", 2, {"Customer": {"Region": "Asia Pacific"}}))
    assert result.outcome is Outcome.APPLIED
    (ws,) = [w for w in await workspaces(emulator) if w["id"] == node]
    assert "Asia Pacific" in ws["categories"].values()


async def test_an_update_for_an_unknown_object_creates_its_workspace_with_full_metadata(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    result = await sink.apply(update("10", 5, {"Customer": {"Region": "Asia Pacific"}}))
    assert result.outcome is Outcome.APPLIED and result.created
    (ws,) = await workspaces(emulator)
    assert ws["name"] == "Customer 10"
    assert {"10", "Asia Pacific"} <= set(ws["categories"].values())


async def test_an_event_older_than_the_last_applied_is_skipped(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    await sink.apply(command("11", 1))
    newer = await sink.apply(update("11", 9, {"Customer": {"Region": "Americas"}}))
    assert newer.outcome is Outcome.APPLIED
    calls = await admin(emulator, "calls")
    late = await sink.apply(update("11", 4, {"Customer": {"Region": "Europe"}}))
    assert late.outcome is Outcome.ALREADY_APPLIED and late.workspace == newer.workspace
    assert await admin(emulator, "calls") == calls
    (values,) = await category_values(emulator)
    assert "Americas" in values.values() and "Europe" not in values.values()


async def test_a_replay_whose_position_cannot_be_ordered_is_still_known_by_its_key(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    """After a connector change positions of the old and new log cannot be compared: the ledger's
    recent idempotency keys still stop a replayed old change from overwriting a newer one."""
    await sink.apply(command("16", 1))
    old = await sink.apply(update("16", 5, {"Customer": {"Region": "Asia Pacific"}}))
    new = await sink.apply(update("16", 6, {"Customer": {"Region": "Americas"}},
                                  position="binlog:mysql-bin.000003:100:0"))
    assert (old.outcome, new.outcome) == (Outcome.APPLIED, Outcome.APPLIED)
    calls = await admin(emulator, "calls")
    replayed = await sink.apply(update("16", 5, {"Customer": {"Region": "Asia Pacific"}}))
    assert replayed.outcome is Outcome.ALREADY_APPLIED
    assert await admin(emulator, "calls") == calls
    (values,) = await category_values(emulator)
    assert "Americas" in values.values() and "Asia Pacific" not in values.values()


async def test_a_source_delete_never_creates_a_workspace(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    result = await sink.apply(update("12", 3, {"Customer": {"Status": "deleted"}}, create_if_absent=False))
    assert result.outcome is Outcome.ALREADY_APPLIED and result.workspace is None
    assert await workspaces(emulator) == []
    assert (await admin(emulator, "calls")).get("workspaces.create", 0) == 0


async def test_the_ledger_entry_is_written_before_apply_returns_and_only_for_what_was_applied(
    deploy: Any, emulator: RunningEmulator
) -> None:
    log = MemoryLog(auto_deliver=False)  # deliveries wait for the test: "written" and "durable" differ
    sink = await deploy(log)
    applied = await sink.apply(command("13", 1))
    assert applied.outcome is Outcome.APPLIED and applied.workspace is not None
    entry = only(log.records(LEDGER_TOPIC))
    assert entry.key == b"opentext:SAP_PRD/KNA1/13"
    assert entry.partition == partition_of("SAP_PRD/KNA1/13", log)  # co-partitioned with the command topic
    assert entry.json() == {"business_object": "SAP_PRD/KNA1/13", "position": "lsn:1",
                            "workspace": applied.workspace.model_dump(mode="json"),
                            "keys": [command("13", 1).idempotency_key]}
    await assert_pending_until_delivered(log, sink.state.barrier(entry.partition))  # what the runner waits for

    rejected = await sink.apply(command("14", 1, categories={"Customer": {"Shoe Size": 44}}))
    assert rejected.outcome is Outcome.REJECTED
    await admin(emulator, "faults", "POST", {"error_rate": 1.0, "error_kind": "503"})
    unfinished = await sink.apply(command("15", 1))
    assert not unfinished.finished
    assert len(log.records(LEDGER_TOPIC)) == 1, "nothing written for a rejected or unfinished command"


async def test_a_new_deployment_repeats_nothing_another_worker_applied(
    deploy: Any, log: MemoryLog, emulator: RunningEmulator
) -> None:
    first = await deploy(log)
    created = await first.apply(command("14", 1))
    newer = await first.apply(update("14", 20, {"Customer": {"Region": "Americas"}}))
    assert (created.outcome, newer.outcome) == (Outcome.APPLIED, Outcome.APPLIED)
    assert [v["position"] for v in log.values(LEDGER_TOPIC)] == ["lsn:1", "lsn:20"]

    second = await deploy(log)  # its own store over the same log, loaded after the first one wrote
    calls = await admin(emulator, "calls")
    replayed = await second.apply(command("14", 1))
    old = await second.apply(update("14", 9, {"Customer": {"Region": "Europe"}}))
    assert (replayed.outcome, old.outcome) == (Outcome.ALREADY_APPLIED, Outcome.ALREADY_APPLIED)
    assert replayed.workspace == old.workspace == created.workspace
    assert await admin(emulator, "calls") == calls  # answered from the ledger: no OpenText call at all
    (values,) = await category_values(emulator)
    assert "Americas" in values.values() and "Europe" not in values.values()


async def test_a_lost_ledger_costs_a_lookup_not_a_second_workspace(
    deploy: Any, emulator: RunningEmulator
) -> None:
    first = await deploy(MemoryLog())
    created = await first.apply(command("17", 1))
    forgetful = await deploy(MemoryLog())  # another ledger topic: it knows nothing of the first
    again = await forgetful.apply(command("17", 1))
    assert (created.outcome, again.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert again.workspace == created.workspace and not again.created
    assert (await admin(emulator, "calls"))["workspaces.create"] == 1
    assert len(await workspaces(emulator)) == 1


def contract(bo_id: str, values: dict[str, Any]) -> EnsureWorkspace:
    return command(bo_id, 1, workspace_type="Contract", template="Contract Template", name=f"Contract {bo_id}",
                   categories={"Contract": {"Contract Number": f"C-{bo_id}", **values}})


@pytest.mark.parametrize(("values", "found"), [
    ({"Amount": "lots"}, "Contract.Amount ("),
    ({"Start Date": "next Tuesday"}, "Contract.Start Date ("),
    ({"Signed": "maybe"}, "Contract.Signed ("),
    ({"Contract Number": {"first": "C"}}, "Contract.Contract Number ("),
])
async def test_a_wrong_typed_create_is_rejected_and_creates_nothing(
    sink: OpenTextSink, log: MemoryLog, emulator: RunningEmulator, values: dict[str, Any], found: str
) -> None:
    result = await sink.apply(contract("20", {"Amount": 12, "Signed": True, **values}))
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.WRONG_TYPE
    assert found in (result.detail or "") and "it cannot take" in (result.detail or "")
    assert await workspaces(emulator) == []
    calls = await admin(emulator, "calls")
    assert calls.get("workspaces.create", 0) == 0 and calls.get("nodes.create", 0) == 0
    assert log.values(LEDGER_TOPIC) == []


async def test_a_right_typed_create_keeps_its_values(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    values = {"Amount": "1200", "Rate": 0.25, "Signed": True, "Start Date": "2026-03-01"}
    result = await sink.apply(contract("21", values))
    assert result.outcome is Outcome.APPLIED and result.created
    (ws,) = await workspaces(emulator)
    assert {"C-21", "1200", 0.25, True, "2026-03-01"} <= set(ws["categories"].values())



CONTACTS = [{"Name": "Ada", "Email": "a@x"}, {"Name": "Grace"}]


def row_keys(emulator: RunningEmulator, row: int) -> tuple[str, str]:
    """The keys of row ``row`` of the Customer category's Contacts set (Name, Email) on this emulator."""
    customer = next(c for c in emulator.state.categories.values() if c.name == "Customer")
    contacts = next(a for a in customer.attributes if a.title == "Contacts")
    name, email = (f"{contacts.key}_{row}_{member.attr_id}" for member in contacts.set_attributes)
    return name, email


async def test_a_create_with_set_rows_keys_them_by_member_so_opentext_takes_them(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    """Set rows on create went out keyed by member *name* ({"2006_7": [{"Name": "Ada"}]}) and the server
    answered 400 "non-matching attribute ('Name')"; they are keyed by member key, as an update's are."""
    result = await sink.apply(command("30", 1, categories={"Customer": {"Account Number": "30", "Contacts": CONTACTS}}))
    assert result.outcome is Outcome.APPLIED and result.created, result.detail
    (name_1, email_1), (name_2, _) = row_keys(emulator, 1), row_keys(emulator, 2)
    (values,) = await category_values(emulator)
    assert (values[name_1], values[email_1], values[name_2]) == ("Ada", "a@x", "Grace")
    changed = await sink.apply(update("30", 2, {"Customer": {"Contacts": [{"Name": "Ada", "Email": "ada@x"}]}}))
    assert changed.outcome is Outcome.APPLIED
    (values,) = await category_values(emulator)
    assert (values[email_1], values.get(name_2)) == ("ada@x", None)  # the second row emptied


async def test_the_sink_sends_the_requests_the_dry_run_prints(
    deploy_on_seed: tuple[OpenTextSink, OpenTextClient],
) -> None:
    """On the emulator's plain seed (the ids of the dry-run catalog) the sink's create, built from the
    server's answers, and the dry-run's, built from the catalog, are one body; so is a PUT on a node."""
    sink, client = deploy_on_seed
    create = command("31", 1, categories={"Customer": {"Account Number": "31", "Owner": "j.doe", "Contacts": CONTACTS}})
    sent = await sink._request_for(create)  # noqa: SLF001 - the request the sink hands to the client
    assert sent.to_body() == create_request_of(create, load_catalog()).to_body()
    assert sent.to_body()["roles"]["categories"]["2006"]["2006_7"][1] == {"2006_7_x_8": "Grace"}
    created = await sink.apply(create)
    assert created.workspace is not None
    (node_category,) = await client.node_categories(created.workspace.node_id)
    changed = {"Region": "Americas", "Contacts": CONTACTS[:1]}  # one row: the node's second row is emptied
    assert put_body(node_category.keys(), changed) == {"2006_5": "Americas", "2006_7_1_8": "Ada", "2006_7_1_9": "a@x",
                                                       "2006_7_2_8": None, "2006_7_2_9": None}
    assert put_body(load_catalog().category_keys("Customer"), changed).items() <= put_body(
        node_category.keys(), changed).items()  # the dry-run does not know the node's rows: no emptying


@pytest.fixture
async def deploy_on_seed() -> AsyncIterator[tuple[OpenTextSink, OpenTextClient]]:
    async with await start_opentext_emulator(OpenTextEmulatorConfig()) as plain:
        settings = OpenTextSettings(base_url=plain.url)
        sink = OpenTextSink(settings, Ledger(await ledger_store(MemoryLog()), position_order), OpenTextClient(settings))
        async with OpenTextClient(settings) as client:
            yield sink, client
        await sink.close()
