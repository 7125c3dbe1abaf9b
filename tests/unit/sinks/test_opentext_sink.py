"""The OpenText sink against the emulator: per-command results, idempotency, order per business object."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from xstream.clients.opentext import OpenTextClient
from xstream.emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, EnsureWorkspace, UpdateWorkspace
from xstream.model.position import position_order
from xstream.model.status import Outcome, WorkspaceLink
from xstream.settings import OpenTextSettings
from xstream.sinks.ledger import Ledger, LedgerEntry
from xstream.sinks.opentext import OpenTextSink


def command(bo_id: str, offset: int, **overrides) -> EnsureWorkspace:
    fields = dict(
        idempotency_key=f"{bo_id}-{offset}".ljust(16, "0"),
        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id=bo_id),
        workspace_type="Customer", template="Customer Template", name=f"Customer {bo_id}",
        categories={"Customer": {"Account Number": bo_id, "Region": "Europe"}},
        causation=Causation(source_system="erp", entity="customers", op="c", source_position=f"lsn:{offset}",
                            topic="erp.cdc.customers", partition=0, offset=offset),
    )
    return EnsureWorkspace(**{**fields, **overrides})


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_opentext_emulator(OpenTextEmulatorConfig()) as running:
        yield running


@pytest.fixture
async def sink(emulator: RunningEmulator) -> AsyncIterator[OpenTextSink]:
    settings = OpenTextSettings(base_url=emulator.url, public_url="https://ecm.example.com/otcs/cs")
    sink = OpenTextSink(settings, Ledger(order=position_order), OpenTextClient(settings))
    await sink.start()
    yield sink
    await sink.close()


async def admin(emulator: RunningEmulator, what: str, method: str = "GET", json: object = None) -> dict:
    async with aiohttp.ClientSession() as http, http.request(method, f"{emulator.admin_url}/{what}", json=json) as r:
        return await r.json()


async def test_results_per_command_in_order(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    batch = [command("1", 1), command("1", 2), command("2", 3, workspace_type="Vendor"),
             command("3", 4, categories={"Customer": {"Shoe Size": 44}})]
    results = await sink.write(batch)
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.ALREADY_APPLIED, Outcome.REJECTED,
                                            Outcome.REJECTED]
    assert results[0].workspace == results[1].workspace
    assert results[0].workspace is not None
    assert results[0].workspace.url == f"https://ecm.example.com/otcs/cs/app/nodes/{results[0].workspace.node_id}"
    assert results[2].reason is DeadLetterReason.MAPPING_FAILED and "Vendor" in (results[2].detail or "")
    assert "Shoe Size" in (results[3].detail or "")
    (ws,) = (await admin(emulator, "state"))["workspaces"]
    assert sorted(map(str, ws["categories"].values())) >= ["1", "Europe"]


async def test_a_replayed_command_is_answered_from_the_ledger(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    await sink.write([command("7", 1)])
    calls_before = await admin(emulator, "calls")
    (result,) = await sink.write([command("7", 1)])
    assert result.outcome is Outcome.ALREADY_APPLIED
    assert await admin(emulator, "calls") == calls_before


async def test_transient_failure_leaves_later_commands_of_that_object_unfinished(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    await sink.write([command("warm-up", 0)])  # types and forms cached, so the next calls are lookups/creates
    await admin(emulator, "faults", "POST", {"error_rate": 1.0, "error_kind": "503", "retry_after_s": 2})
    results = await sink.write([command("8", 1), command("8", 2)])
    assert [r.finished for r in results] == [False, False]
    assert results[0].retry_after == 2
    await admin(emulator, "faults", "POST", {"error_rate": 0.0})
    results = await sink.write([command("8", 1), command("8", 2)])
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.ALREADY_APPLIED]


def update(bo_id: str, offset: int, changed: dict, **overrides) -> UpdateWorkspace:
    base = command(bo_id, offset)
    fields = {**base.model_dump(exclude={"kind"}), "changed": changed, **overrides}
    fields["causation"] = base.causation.model_copy(update={"op": "u", "source_position": f"lsn:{offset}"})
    return UpdateWorkspace(**fields)


async def category_values(emulator: RunningEmulator) -> list[dict]:
    return [ws["categories"] for ws in (await admin(emulator, "state"))["workspaces"]]


async def test_an_update_sends_only_the_changed_attributes(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    await sink.write([command("9", 1)])
    calls = await admin(emulator, "calls")
    (result,) = await sink.write([update("9", 2, {"Customer": {"Region": "Asia Pacific"}})])
    assert result.outcome is Outcome.APPLIED
    after = await admin(emulator, "calls")
    assert after.get("categories.update", 0) - calls.get("categories.update", 0) == 1
    assert after.get("workspaces.create", 0) == calls.get("workspaces.create", 0)
    (values,) = await category_values(emulator)
    assert "Asia Pacific" in values.values() and "9" in values.values()


async def test_an_update_for_an_unknown_object_creates_its_workspace_with_full_metadata(
    sink: OpenTextSink, emulator: RunningEmulator
) -> None:
    (result,) = await sink.write([update("10", 5, {"Customer": {"Region": "Europe"}})])
    assert result.outcome is Outcome.APPLIED
    (ws,) = (await admin(emulator, "state"))["workspaces"]
    assert ws["name"] == "Customer 10"


async def test_an_event_older_than_the_last_applied_is_skipped(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    await sink.write([command("11", 1), update("11", 9, {"Customer": {"Region": "Americas"}})])
    calls = await admin(emulator, "calls")
    (late,) = await sink.write([update("11", 4, {"Customer": {"Region": "Europe"}})])
    assert late.outcome is Outcome.ALREADY_APPLIED
    assert await admin(emulator, "calls") == calls
    (values,) = await category_values(emulator)
    assert "Americas" in values.values() and "Europe" not in values.values()


async def test_a_source_delete_never_creates_a_workspace(sink: OpenTextSink, emulator: RunningEmulator) -> None:
    (result,) = await sink.write([update("12", 3, {"Customer": {"Status": "deleted"}}, create_if_absent=False)])
    assert result.outcome is Outcome.ALREADY_APPLIED
    assert (await admin(emulator, "state"))["workspaces"] == []


class FlakyStore:
    """A ledger store whose first write fails, as when the broker is briefly unreachable."""

    def __init__(self, entries: list | None = None) -> None:
        self.saved: list = []
        self.entries = entries or []
        self.fail_next = True

    async def load(self) -> list:
        return list(self.entries)

    async def save(self, entry) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker unreachable")
        self.saved.append(entry)

    async def close(self) -> None:
        return None


async def test_a_failed_ledger_write_is_retried_and_the_outcome_kept(emulator: RunningEmulator) -> None:
    settings = OpenTextSettings(base_url=emulator.url)
    store = FlakyStore()
    sink = OpenTextSink(settings, Ledger(order=position_order), OpenTextClient(settings), store=store)
    await sink.start()
    try:
        (first,) = await sink.write([command("13", 1)])
        assert not first.finished and store.saved == []
        (retried,) = await sink.write([command("13", 1)])
        assert retried.outcome is Outcome.APPLIED and retried.created
        assert [e.position for e in store.saved] == ["lsn:1"]
        assert (await admin(emulator, "calls"))["workspaces.create"] == 1
    finally:
        await sink.close()


async def test_a_refresh_restores_what_other_workers_applied(emulator: RunningEmulator) -> None:
    settings = OpenTextSettings(base_url=emulator.url)
    link = WorkspaceLink(node_id=4242, url="http://ot/app/nodes/4242")
    store = FlakyStore([LedgerEntry(business_object="SAP_PRD/KNA1/14", position="lsn:50", workspace=link)])
    sink = OpenTextSink(settings, Ledger(order=position_order), OpenTextClient(settings), store=store)
    await sink.start()
    try:
        await sink.refresh()
        calls = await admin(emulator, "calls")
        (old,) = await sink.write([update("14", 20, {"Customer": {"Region": "Europe"}})])
        assert old.outcome is Outcome.ALREADY_APPLIED and old.workspace == link
        assert await admin(emulator, "calls") == calls  # answered from the ledger: no OpenText call
    finally:
        await sink.close()
