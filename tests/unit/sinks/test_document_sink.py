"""The document sink against the in-process OpenText and ERP emulators (no broker; its state on an
in-memory log): lost answers, a lost state, copies and folders deleted in OpenText, same bytes, the
wait for a workspace. Every assertion is on what OpenText holds afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import HttpUrl, TypeAdapter
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.support.memory_log import MemoryLog
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.clients.sap import SapAttachmentsClient
from xstream.codec import decode_change
from xstream.demo.opentext_user import workspace_for
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.change import ChangeEvent
from xstream.model.documents import PublishDocument, StoreDocument, TargetRecord
from xstream.model.record import RecordRef
from xstream.model.results import Outcome
from xstream.settings import DocumentSettings, OpenTextSettings
from xstream.sinks.document_sources import Sources
from xstream.sinks.document_state import DocumentEntry, DocumentState
from xstream.sinks.documents import DocumentSink
from xstream.streams.state import PartitionedStore
from xstream.transform.documents import plan_inbound
from xstream.transform.rule_files import DOCUMENT_RULES_DIR, load_document_rule_files

RULES = load_document_rule_files([DOCUMENT_RULES_DIR])
RULE = RULES.inbound_for("erp.cdc.attachments")
SUPPLIER = "0000300007"
BO = BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id=SUPPLIER)
BODIES = (b"%PDF-1.7 v1", b"%PDF-1.7 v2", b"%PDF-1.7 v3")


@dataclass
class Env:
    opentext: RunningEmulator
    erp: RunningErpEmulator
    client: OpenTextClient
    http: aiohttp.ClientSession
    settings: OpenTextSettings
    commands: list[StoreDocument]

    async def sink(self, log: MemoryLog | None = None, *, clock: Any = None,
                   settings: DocumentSettings | None = None) -> DocumentSink:
        log = log or MemoryLog()
        store: PartitionedStore[DocumentEntry] = PartitionedStore(
            publisher=log, reader=log, topic="xstream.documents", prefix="", adapter=TypeAdapter(DocumentEntry))
        await store.load(range(log.partition_count))
        extra = {"clock": clock} if clock is not None else {}
        return DocumentSink(opentext=self.client, sources=Sources({"erp": SapAttachmentsClient(self.erp.origin)}),
                            state=DocumentState(store), settings=settings or DocumentSettings(),
                            opentext_settings=self.settings, attributes=RULES.attributes, **extra)

    async def faults(self, body: dict[str, Any]) -> None:
        async with self.http.post(f"{self.opentext.admin_url}/faults", json=body) as resp:
            resp.raise_for_status()

    async def documents(self) -> list[tuple[str, list[str], Any]]:
        """(name, sha256 of each version, Source Version) of every document in OpenText."""
        async with self.http.get(f"{self.opentext.admin_url}/state") as resp:
            found = (await resp.json())["documents"]
        return [(d["name"], [v["sha256"] for v in d["versions"]], d["categories"].get("2015_6")) for d in found]

    async def calls(self) -> dict[str, int]:
        async with self.http.get(f"{self.opentext.admin_url}/calls") as resp:
            return dict(await resp.json())


def sha(body: bytes) -> str:
    import hashlib
    return hashlib.sha256(body).hexdigest()


def planned(change: dict[str, Any], offset: int) -> StoreDocument:
    assert RULE is not None
    event = decode_change(orjson.dumps(change["key"]), orjson.dumps({"schema": {}, "payload": change["value"]}),
                          RecordRef(topic="erp.cdc.attachments", partition=0, offset=offset), max_bytes=1 << 20)
    assert isinstance(event, ChangeEvent)
    command = plan_inbound(event, RULE, RULES.attributes, "erp")
    assert isinstance(command, StoreDocument)
    return command


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    opentext = await start_opentext_emulator(OpenTextEmulatorConfig())
    erp = await start_erp_emulator(ErpEmulatorConfig())
    settings = OpenTextSettings(base_url=HttpUrl(opentext.url))
    try:
        async with OpenTextClient(settings) as client, aiohttp.ClientSession() as http:
            async with http.post(f"{erp.admin_url}/records/suppliers", json={
                    "id": SUPPLIER, "supplier_id": SUPPLIER, "name": "Initech", "purchaser": "k.tanaka",
                    "country": "DE", "posting_block": False}) as resp:
                resp.raise_for_status()
            await workspace_for(client, "Supplier", BO, "Initech (0000300007)")
            params = {"bo_type": "LFA1", "bo_key": SUPPLIER, "file_name": "PO.pdf", "mime": "application/pdf",
                      "document_type": "Purchase Order"}
            async with http.post(f"{erp.admin_url}/attachments", params=params, data=BODIES[0]) as resp:
                attachment = await resp.json()
            for body in BODIES[1:]:
                async with http.post(f"{erp.admin_url}/attachments/{attachment['attachment_id']}/versions",
                                     params={"file_name": "PO.pdf", "mime": "application/pdf"}, data=body) as resp:
                    resp.raise_for_status()
            async with http.get(f"{erp.admin_url}/changes", params={"since": "0"}) as resp:
                changes = [c for c in (await resp.json())["changes"] if c["entity"] == "attachments"]
            yield Env(opentext, erp, client, http, settings, [planned(c, i) for i, c in enumerate(changes)])
    finally:
        await erp.stop()
        await opentext.stop()


async def test_lost_answers_on_create_and_on_a_new_version_store_each_version_once(env: Env) -> None:
    sink = await env.sink()
    v1, v2, _ = env.commands
    await env.faults({"lost_answer_rate": 1.0, "operations": ["nodes.create"]})
    assert (await sink.apply(v1)).outcome is None  # OpenText stored it; the answer never came
    await env.faults({})
    assert (await sink.apply(v1)).outcome is Outcome.APPLIED
    await env.faults({"lost_answer_rate": 1.0, "operations": ["versions.add"]})
    assert (await sink.apply(v2)).outcome is None
    await env.faults({})
    assert (await sink.apply(v2)).outcome is Outcome.APPLIED
    assert await env.documents() == [("PO.pdf", [sha(BODIES[0]), sha(BODIES[1])], "2")]


async def test_a_lost_state_and_a_replay_add_nothing(env: Env) -> None:
    first = await env.sink()
    assert [(await first.apply(c)).outcome for c in env.commands] == [Outcome.APPLIED] * 3
    before = await env.documents()
    again = await env.sink(MemoryLog())  # xstream.documents lost: a new cluster, a reset topic
    # v1 finds the document by name and its Source Version 3: all three are there already
    assert [(await again.apply(c)).outcome for c in env.commands] == [Outcome.ALREADY_APPLIED] * 3
    assert await env.documents() == before == [("PO.pdf", [sha(b) for b in BODIES], "3")]


async def test_a_replay_costs_no_opentext_call_and_same_bytes_add_no_version(env: Env) -> None:
    sink = await env.sink()
    v1, v2, _ = env.commands
    for command in (v1, v2):
        assert (await sink.apply(command)).outcome is Outcome.APPLIED
    calls = await env.calls()
    assert [(await sink.apply(c)).outcome for c in (v1, v2)] == [Outcome.ALREADY_APPLIED] * 2
    assert await env.calls() == calls
    same = v2.model_copy(update={"idempotency_key": "k" * 40, "source": v2.source.model_copy(update={"version": 3})})
    assert (await sink.apply(same)).outcome is Outcome.ALREADY_APPLIED  # ERP v3 = v2's bytes
    assert (await env.calls()).get("versions.add", 0) == calls.get("versions.add", 0)


async def test_a_copy_deleted_in_opentext_is_stored_anew_not_blamed_on_the_source(env: Env) -> None:
    sink = await env.sink()
    v1, v2, v3 = env.commands
    assert (await sink.apply(v1)).outcome is Outcome.APPLIED
    (node,) = [d["id"] async for d in _documents(env)]
    await env.client.delete_node(node)
    result = await sink.apply(v2)
    assert result.outcome is Outcome.APPLIED, result.detail
    assert await env.documents() == [("PO.pdf", [sha(BODIES[1])], "2")]


async def test_a_cached_folder_deleted_in_opentext_is_looked_up_again(env: Env) -> None:
    sink = await env.sink()
    v1, *_ = env.commands
    other = v1.model_copy(update={"idempotency_key": "o" * 40, "document_key": "erp/sap/ATT-OTHER", "name": "B.pdf",
                                  "source": v1.source.model_copy(update={"document_id": "ATT-OTHER"})})
    assert (await sink.apply(v1)).outcome is Outcome.APPLIED
    (folder_id,) = {d["parent_id"] async for d in _documents(env)}
    await env.client.delete_node(folder_id)
    first = await sink.apply(other)
    assert first.outcome is None and first.blames_target  # the cache was stale: forgotten, tried again
    assert (await sink.apply(other)).outcome is Outcome.APPLIED
    assert [name for name, *_ in await env.documents()] == ["B.pdf"]


async def test_a_document_waits_for_its_workspace_without_tripping_the_breaker_then_is_dead_lettered(
        env: Env) -> None:
    now = [0.0]
    sink = await env.sink(clock=lambda: now[0], settings=DocumentSettings(workspace_wait_s=60))
    v1, *_ = env.commands
    orphan = v1.model_copy(update={"business_object": v1.business_object.model_copy(update={"bo_id": "0000999999"})})
    waiting = await sink.apply(orphan)
    assert waiting.outcome is None and not waiting.blames_target
    now[0] = 61.0
    refused = await sink.apply(orphan)
    assert refused.outcome is Outcome.REJECTED and refused.reason is DeadLetterReason.UNKNOWN_BUSINESS_OBJECT
    assert "0000999999" in (refused.detail or "")
    assert await env.documents() == []


async def _documents(env: Env) -> AsyncIterator[dict[str, Any]]:
    async with env.http.get(f"{env.opentext.admin_url}/state") as resp:
        for doc in (await resp.json())["documents"]:
            yield doc


async def test_a_link_is_made_once_even_when_the_source_keeps_no_idempotency_key(env: Env) -> None:
    """SAP Gateway has no Idempotency-Key store: a retry (here with another key, as after a lost answer
    on a real system) finds the link it made and makes no second one."""
    sources = Sources({"erp": SapAttachmentsClient(env.erp.origin)})
    link = PublishDocument(idempotency_key="a" * 40, document_key="opentext/1", business_object=BusinessObject(
        ext_system_id="SAP_PRD", bo_type="LFA1", bo_id=SUPPLIER), causation=env.commands[0].causation, node_id=1,
        name="Supply Agreement.pdf", target="erp", format="sap", mode="link",
        record=TargetRecord(bo_type="LFA1", bo_key=SUPPLIER))
    url = f"{env.opentext.url}/app/nodes/1"
    try:
        first = await sources.publish_link(link, url)
        again = await sources.publish_link(link.model_copy(update={"idempotency_key": "b" * 40}), url)
    finally:
        await sources.close()
    assert again == first
    async with env.http.get(f"{env.erp.admin_url}/attachments", params={"bo_type": "LFA1", "bo_key": SUPPLIER}) as r:
        links = [a for a in (await r.json())["attachments"] if a["kind"] == "url"]
    assert [a["file_name"] for a in links] == ["Supply Agreement.pdf"]
