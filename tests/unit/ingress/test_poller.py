"""The poller's cycles against the OpenText emulator (real HTTP, no broker): what it reports, once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import (
    OpenTextEmulatorConfig,
    OpenTextState,
    RunningEmulator,
    start_opentext_emulator,
)

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.opentext_user import file_document, set_status, workspace_for
from xstream.ingress.checkpoint import PollCheckpoint
from xstream.ingress.observe import Observer
from xstream.ingress.poller import CycleResult, Poller
from xstream.model.opentext import EventKind, parse_otcs_date
from xstream.settings import OpenTextSettings, PollerSettings


class Clock:
    """One clock for OpenText (its modify dates have whole seconds) and the poller, which stands still
    until a test moves it: a second passes without waiting for one, and changes made together fall
    in the same second, which is the case the poller must not miss."""

    def __init__(self) -> None:
        self.seconds = float(int(time.time())) + 0.25  # early in a second

    def time(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@dataclass
class ServerTime:
    """The poller's and the observer's clock: the emulator's (a :class:`Clock`)."""

    emulator: RunningEmulator

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.emulator.state.clock(), UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emulator(clock: Clock) -> AsyncIterator[RunningEmulator]:
    config = OpenTextEmulatorConfig()
    async with await start_opentext_emulator(config, OpenTextState.from_config(config, clock=clock.time)) as emu:
        yield emu


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[OpenTextClient]:
    async with OpenTextClient(OpenTextSettings(base_url=emulator.url)) as c:
        yield c


def poller(client: OpenTextClient, emulator: RunningEmulator, types: list[str] | None = None,
           **settings: Any) -> Poller:
    config = PollerSettings(enabled=True, **settings)
    return Poller(client, Observer(client, OpenTextSettings(base_url=emulator.url), ServerTime(emulator)), config,
                  types if types is not None else ["Supplier"], ServerTime(emulator))


async def supplier(client: OpenTextClient, bo_id: str = "0000300001") -> int:
    return await workspace_for(client, "Supplier", BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                     bo_id=bo_id), f"Supplier {bo_id}")


def kinds(result: CycleResult) -> list[tuple[int, str, bool]]:
    return [(e.document.node_id, e.kind.value, e.snapshot) for e in result.events]


async def admin(emulator: RunningEmulator, path: str, method: str = "GET") -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, f"{emulator.admin_url}/{path}") as resp:
        return await resp.json()


async def test_the_first_scan_records_the_current_state_then_only_changes_are_reported(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    doc = await file_document(client, await supplier(client), "Contract.pdf", document_type="Contract",
                              status="In Legal Review")
    p = poller(client, emulator)
    first = await p.cycle(PollCheckpoint(name="opentext"))
    assert kinds(first) == [(doc, "document.added", True)]
    (snapshot,) = first.events
    assert snapshot.workspace is not None and snapshot.workspace.type_name == "Supplier"
    assert snapshot.document.attributes["Document"]["Status"] == "In Legal Review"
    assert first.checkpoint.baseline_done and first.checkpoint.high_water == snapshot.document.modify_date

    quiet = await p.cycle(first.checkpoint)
    assert quiet.events == []  # looked at again (not settled yet), but nothing new

    await set_status(client, doc, "Legal Review Done")
    changed = await p.cycle(quiet.checkpoint)
    assert kinds(changed) == [(doc, "document.attributes_changed", False)]
    (event,) = changed.events
    assert event.document.attributes["Document"]["Status"] == "Legal Review Done"
    assert [c.name for c in event.changes] == ["Attribute Value Changed"]
    assert event.event_id != snapshot.event_id


async def test_new_documents_and_versions_are_reported_as_such_and_subfolders_are_searched(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    workspace = await supplier(client)
    p = poller(client, emulator)
    checkpoint = (await p.cycle(PollCheckpoint(name="opentext"))).checkpoint
    folder = await client.ensure_folder_path(workspace, ["Contracts", "2027"])
    doc = await file_document(client, folder, "Annex.pdf", document_type="Contract", status="Draft")
    added = await p.cycle(checkpoint)
    assert kinds(added) == [(doc, "document.added", False)]
    await file_document(client, folder, "Annex.pdf", document_type="Contract", status="Draft", content=b"v2")
    versioned = await p.cycle(added.checkpoint)
    assert kinds(versioned) == [(doc, "document.version_added", False)]
    assert versioned.events[0].document.version == 2


async def test_only_the_watched_workspace_types_and_folders_are_looked_at(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    customer = await workspace_for(client, "Customer", BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="KNA1",
                                                                         bo_id="100001"), "Customer 100001")
    doc = await file_document(client, customer, "NDA.pdf", document_type="Contract", status="Draft")
    assert (await poller(client, emulator, start_from="earliest").cycle(PollCheckpoint(name="x"))).events == []
    watched = poller(client, emulator, types=[], folder_ids=[customer], start_from="earliest")
    assert kinds(await watched.cycle(PollCheckpoint(name="x"))) == [(doc, "document.added", False)]


async def test_a_restarted_poller_reports_nothing_twice_and_misses_nothing(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    doc = await file_document(client, await supplier(client), "Contract.pdf", document_type="Contract", status="Draft")
    first = await poller(client, emulator, start_from="earliest").cycle(PollCheckpoint(name="opentext"))
    assert kinds(first) == [(doc, "document.added", False)]
    stored = PollCheckpoint.model_validate_json(first.checkpoint.model_dump_json())  # via the checkpoint topic
    restarted = poller(client, emulator, start_from="earliest")
    assert (await restarted.cycle(stored)).events == []
    await set_status(client, doc, "Signed")
    assert kinds(await restarted.cycle(stored)) == [(doc, "document.attributes_changed", False)]


async def test_the_overlap_window_catches_a_change_that_became_visible_late(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    doc = await file_document(client, await supplier(client), "Contract.pdf", document_type="Contract", status="Draft")
    modified = parse_otcs_date((await client.get_node(doc)).modify_date)
    assert modified is not None
    # the high-water mark is already 60 s past this change (another document, a clock ahead): the overlap decides
    later = (modified + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S")
    checkpoint = PollCheckpoint(name="opentext", high_water=later, baseline_done=True)
    assert kinds(await poller(client, emulator, overlap_s=120).cycle(checkpoint)) == [
        (doc, "document.added", False)]
    assert (await poller(client, emulator, overlap_s=10).cycle(checkpoint)).events == []


async def test_an_observation_is_looked_at_again_until_it_is_certainly_past_its_modify_second(
        client: OpenTextClient, emulator: RunningEmulator, clock: Clock) -> None:
    doc = await file_document(client, await supplier(client), "Contract.pdf", document_type="Contract", status="Draft")
    p = poller(client, emulator, start_from="earliest")
    first = await p.cycle(PollCheckpoint(name="opentext"))
    assert kinds(first) == [(doc, "document.added", False)]
    assert not first.checkpoint.seen[str(doc)].settled  # read within the second it was modified
    again = await p.cycle(first.checkpoint)
    assert again.observed == 1 and again.events == [] and not again.checkpoint.seen[str(doc)].settled  # still so
    clock.advance(1.0)
    second = await p.cycle(first.checkpoint)
    assert second.observed == 1 and second.events == [] and second.checkpoint.seen[str(doc)].settled
    third = await p.cycle(second.checkpoint)
    assert third.observed == 0 and third.events == []  # settled: listed, not read again


async def test_a_change_in_the_same_second_as_an_observation_is_not_missed(
        client: OpenTextClient, emulator: RunningEmulator, clock: Clock) -> None:
    doc = await file_document(client, await supplier(client), "Contract.pdf", document_type="Contract", status="Draft")
    p = poller(client, emulator, start_from="earliest")
    first = await p.cycle(PollCheckpoint(name="opentext"))
    modified = (await client.get_node(doc)).modify_date
    await set_status(client, doc, "Signed")
    assert (await client.get_node(doc)).modify_date == modified  # the same second: the date did not move
    clock.advance(1.0)  # the next cycle comes later: the first observation was not settled, so it looks again
    assert kinds(await p.cycle(first.checkpoint)) == [(doc, "document.attributes_changed", False)]


async def test_finished_workflows_are_reported_once_per_attached_document(
        client: OpenTextClient, emulator: RunningEmulator) -> None:
    workspace = await supplier(client)
    docs = [await file_document(client, workspace, f"Contract {i}.pdf", document_type="Contract", status="Draft")
            for i in (1, 2)]
    maps = {m.name: m.id for m in await client.find_workflows(docs[0], workspace)}
    done_before = await client.start_workflow(maps["Contract Approval"], docs[:1])
    await admin(emulator, f"workflows/{done_before}/complete", "POST")
    p = poller(client, emulator)
    baseline = await p.cycle(PollCheckpoint(name="opentext"))
    assert all(e.snapshot for e in baseline.events)  # finished before the first scan: known, not reported
    process = await client.start_workflow(maps["Contract Approval"], docs)
    await admin(emulator, f"workflows/{process}/stop", "POST")
    finished = await p.cycle(baseline.checkpoint)
    flows = [e for e in finished.events if e.kind is EventKind.WORKFLOW_FINISHED]
    assert sorted(e.document.node_id for e in flows) == docs
    assert {(e.workflow.process_id, e.workflow.name, e.workflow.status) for e in flows if e.workflow} == {
        (process, "Contract Approval", "stopped")}
    assert (await p.cycle(finished.checkpoint)).events == []


async def test_a_cycle_under_a_quarter_of_failing_calls_still_completes(client: OpenTextClient,
                                                                        emulator: RunningEmulator) -> None:
    """Each call of a cycle is retried under the one retry policy: one transient error among dozens of
    calls does not throw the cycle away (before, a cycle under 25 % faults almost never completed)."""
    from xstream.retry import RetryPolicy

    workspace = await supplier(client)
    await file_document(client, workspace, "Supply.pdf", document_type="Contract", status="Draft")
    retry = RetryPolicy(attempts=20, base_delay_s=0.001, max_delay_s=0.01, deadline_s=30)
    p = Poller(client, Observer(client, OpenTextSettings(base_url=emulator.url), ServerTime(emulator)),
               PollerSettings(enabled=True, start_from="earliest"), ["Supplier"], ServerTime(emulator), retry)
    async with aiohttp.ClientSession() as http, http.post(f"{emulator.admin_url}/faults",
                                                          json={"error_rate": 0.25, "error_kind": "500"}) as resp:
        assert resp.status == 200
    results = [await p.cycle(PollCheckpoint(name="t")) for _ in range(3)]
    assert all(len(r.events) == 1 for r in results)
    assert (await admin(emulator, "faults"))["injected"] > 0
