"""Flow F2 when things go wrong, on a real broker with real worker processes: bad notices dead-letter
with their reason while the flow goes on; a large body takes Content Server's Large File Upload path;
a worker SIGKILLed in the middle of a transfer leaves no half document and no second version."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import aiohttp
import orjson
import pytest
from xstream_emulators.opentext import OpenTextEmulatorConfig
from xstream_emulators.opentext.multipart import LargeFileSettings

from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import TIMEOUT_S, decoded
from tests.integration.test_f2_documents import attach, document_statuses, supplier_workspace
from xstream.clients.opentext import OpenTextClient
from xstream.demo.harness import CdcRecord, produce
from xstream.topics import Role

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture
def opentext_config() -> OpenTextEmulatorConfig:
    """Large File Upload from 1 MiB, in 256 KiB parts: a file of a few MiB takes the multipart path."""
    return OpenTextEmulatorConfig(large_files=LargeFileSettings(min_size=MIB, part_size=256 * 1024))


def body_of(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


async def changes(stack: Stack, entity: str) -> list[dict[str, Any]]:
    return [c for c in (await stack.admin("changes?since=0", target="erp"))["changes"] if c["entity"] == entity]


async def notice(stack: Stack, value: dict[str, Any], key: dict[str, Any]) -> None:
    """An attachment row produced as Debezium would, but as the test makes it (the feed is not forwarded)."""
    record = CdcRecord(orjson.dumps(key), orjson.dumps({"schema": {"type": "struct"}, "payload": value}), value["op"])
    await produce(stack.broker.bootstrap, f"{stack.prefix}erp.cdc.attachments", [record])


def dead_letters(collector: Any, stack: Stack) -> list[dict[str, Any]]:
    return decoded(collector, stack.topic(Role.DEAD_LETTER))


async def test_bad_notices_dead_letter_with_their_reason_and_the_flow_goes_on(
        stack: Stack, opentext: OpenTextClient) -> None:
    workspace = await supplier_workspace(stack, opentext)
    await attach(stack, "PO-1.pdf", b"%PDF-1.7 good one")
    gone = await attach(stack, "PO-gone.pdf", b"%PDF-1.7 deleted before it was fetched")
    async with aiohttp.ClientSession() as http, \
            http.delete(f"{stack.targets['erp'].admin_url}/attachments/{gone['attachment_id']}") as resp:
        resp.raise_for_status()
    await attach(stack, "PO-larger.pdf", b"%PDF-1.7 this body is longer than its row says")
    await attach(stack, "PO-hash.pdf", b"%PDF-1.7 the row's hash is not this body's")
    (row_good, row_gone, row_gone_deleted, row_larger, row_hash) = await changes(stack, "attachments")
    assert row_gone_deleted["value"]["op"] == "d"
    await notice(stack, row_good["value"], row_good["key"])
    await notice(stack, row_gone["value"], row_gone["key"])  # 404 from the source: it was deleted meanwhile
    await notice(stack, {**row_larger["value"], "after": {**row_larger["value"]["after"], "file_size": 8}},
                 row_larger["key"])
    await notice(stack, {**row_hash["value"], "after": {**row_hash["value"]["after"], "sha256": "0" * 64}},
                 row_hash["key"])
    await notice(stack, {**row_good["value"], "after": {**row_good["value"]["after"], "bo_key": "0000999999",
                                                        "attachment_id": "ATT-ORPHAN"}}, row_good["key"])
    broken = dict(row_good["value"]["after"])
    del broken["attachment_id"]
    await notice(stack, {**row_good["value"], "after": broken}, row_good["key"])
    await attach(stack, "PO-2.pdf", b"%PDF-1.7 after the bad ones")
    (*_, row_late) = await changes(stack, "attachments")
    await notice(stack, row_late["value"], row_late["key"])
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker(XSTREAM_DOCUMENTS__WORKSPACE_WAIT_S="1")

    assert await collector.wait_for(lambda: len(dead_letters(collector, stack)) >= 5 and len(
        [s for s in document_statuses(collector, stack, "store_document") if s["outcome"] == "applied"]) >= 2,
        TIMEOUT_S), stack.logs()
    reasons = {}
    for letter in dead_letters(collector, stack):
        reasons.setdefault(letter["reason"], []).append(letter)
    assert sorted(reasons) == ["content_mismatch", "missing_field", "source_not_found", "unknown_business_object"]
    assert len(reasons["content_mismatch"]) == 2  # larger than declared; checksum
    details = " ".join(letter["detail"] for letter in reasons["content_mismatch"])
    assert "PO-larger.pdf" in details or "size" in details, details
    assert "attachment_id" in reasons["missing_field"][0]["detail"]
    assert "0000999999" in reasons["unknown_business_object"][0]["detail"]
    documents = {d["name"]: d for d in (await stack.admin("state"))["documents"]}
    assert sorted(documents) == ["PO-1.pdf", "PO-2.pdf"]  # nothing half stored for the bad ones
    assert all(d["parent_id"] != workspace for d in documents.values())  # filed in Purchase Orders/<year>
    assert stack.workers[0].running


async def test_a_large_body_goes_in_parts_and_a_crash_mid_transfer_leaves_one_document_one_version(
        stack: Stack, opentext: OpenTextClient) -> None:
    await supplier_workspace(stack, opentext)
    await stack.forward_cdc("erp", lambda entity: f"erp.cdc.{entity}")
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    # every part takes 150 ms: the transfer of 24 parts lasts long enough to be killed in the middle
    await stack.admin("faults", "POST", {"latency_ms": [150, 150], "operations": ["multipart.part"]})
    first = stack.start_worker()
    data = body_of(6 * MIB, seed=11)
    await attach(stack, "Scan of the framework contract.pdf", data, document_type="Statement of Work")

    async def parts_sent() -> int:
        return int((await stack.admin("calls")).get("multipart.part", 0))

    while await parts_sent() < 4:  # the transfer is under way
        assert await collector.wait_for(lambda: False, 0.1) is False and first.running, stack.logs()
    first.kill()
    assert await parts_sent() < 24
    await stack.admin("faults", "POST", {})
    stack.start_worker(app_id="xstream-test")  # the same deployment comes back
    assert await collector.wait_for(lambda: any(s["outcome"] == "applied" for s in document_statuses(
        collector, stack, "store_document")), TIMEOUT_S), stack.logs()
    (document,) = (await stack.admin("state"))["documents"]
    (version,) = document["versions"]
    assert version["sha256"] == hashlib.sha256(data).hexdigest() and version["size"] == len(data)
    calls = await stack.admin("calls")
    assert calls.get("multipart.complete", 0) == 1  # the killed transfer never completed: no half document
    assert dead_letters(collector, stack) == []

