"""The contract of every client call under every fault mode of the emulator.

Each call either succeeds (no fault, latency, expired tickets or tokens: re-authenticated once) or
raises exactly the documented, classified error: JSON 500, HTML 500 and 503 -> SinkUnavailable
(retriable), 503 with Retry-After -> SinkBackpressure carrying the delay, a hang -> AnswerLost (a SinkUnavailable)
after the configured timeout. The world each call needs is built before the fault is switched on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from xstream_emulators.opentext import RunningEmulator

from tests.unit.clients.support import BytesSource, admin, otds_settings_for, settings_for
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest
from xstream.errors import AnswerLost, SinkBackpressure, SinkUnavailable

TIMEOUT_S = 0.5
"""The request timeout where a hang is the fault: a hang must fail fast."""
GENEROUS_S = 30.0
"""The request timeout everywhere else: building the world and answered calls must not race a short
timer on a loaded machine (0.5 s for an upload failed so with other work running)."""


def timeout_for(mode: str) -> float:
    return TIMEOUT_S if mode == "hang" else GENEROUS_S


@dataclass
class World:
    client: OpenTextClient
    folder: int
    doc: int
    doc_source: BytesSource
    workspace: int
    workflow: int
    process: int
    tmp: Path


Call = Callable[[World], Awaitable[Any]]
NEW = BytesSource(b"new content" * 1000)
CUSTOMER = WorkspaceCreateRequest(template_id=2011, wksp_type_id=1, name="Contract Co",
                                  business_object=BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id="9"))
OTHER = CUSTOMER.model_copy(update={"name": "Other Co", "business_object": BusinessObjectRef(
    ext_system_id="SAP", bo_type="KNA1", bo_id="10")})

CALLS: dict[str, Call] = {
    "get_node": lambda w: w.client.get_node(w.doc),
    "children": lambda w: w.client.children(w.folder, where_type=144),
    "ensure_folder_path": lambda w: w.client.ensure_folder_path(w.folder, ["Sub", "Sub 2"]),
    "upload_new": lambda w: w.client.upsert_document(w.folder, "new.bin", NEW.body("new.bin"), size=NEW.size,
                                                     sha256=NEW.sha256),
    "upload_unchanged": lambda w: w.client.upsert_document(w.folder, "doc.bin", w.doc_source.body("doc.bin"),
                                                           size=w.doc_source.size, sha256=w.doc_source.sha256),
    "upload_version": lambda w: w.client.upsert_document(w.folder, "doc.bin", NEW.body("doc.bin"), size=NEW.size,
                                                         sha256=NEW.sha256),
    "download_to": lambda w: w.client.download_to(w.doc, w.tmp / "out.bin"),
    "versions": lambda w: w.client.versions(w.doc),
    "update_categories": lambda w: w.client.update_categories(w.workspace, {"Customer": {"Status": "Changed"}}),
    "node_audit": lambda w: w.client.node_audit(w.doc),
    "find_workflows": lambda w: w.client.find_workflows(w.doc, w.folder),
    "start_workflow": lambda w: w.client.start_workflow(w.workflow, [w.doc], title="T"),
    "workflow_status": lambda w: w.client.workflow_status(w.process),
    "ensure_workspace_existing": lambda w: w.client.ensure_workspace(CUSTOMER),
    "ensure_workspace_new": lambda w: w.client.ensure_workspace(OTHER),
    "get_workspace": lambda w: w.client.get_workspace(w.workspace),
}

# fault mode -> (admin fault spec, expected error class or None for success, Retry-After expected)
MODES: dict[str, tuple[dict[str, Any], type[Exception] | None, float | None]] = {
    "none": ({}, None, None),
    "latency": ({"latency_ms": [20, 40]}, None, None),
    "expired_tickets": ({"expire_tickets": True}, None, None),
    "json500": ({"error_rate": 1, "error_kind": "500"}, SinkUnavailable, None),
    "html500": ({"error_rate": 1, "error_kind": "html500"}, SinkUnavailable, None),
    "503": ({"error_rate": 1, "error_kind": "503"}, SinkUnavailable, None),
    "503_retry_after": ({"error_rate": 1, "error_kind": "503", "retry_after_s": 3}, SinkBackpressure, 3.0),
    "hang": ({"hang_rate": 1}, AnswerLost, None),  # sent, no answer: OpenText may have acted
}


async def build_world(client: OpenTextClient, tmp: Path, emulator: RunningEmulator) -> World:
    folder = await client.ensure_folder_path(2000, ["Contract"])
    source = BytesSource(b"existing" * 1000)
    doc = (await client.upsert_document(folder, "doc.bin", source.body("doc.bin"), size=source.size,
                                        sha256=source.sha256)).node_id
    workspace = (await client.ensure_workspace(CUSTOMER)).node_id
    workflow = next(w.id for w in await client.find_workflows(doc, folder) if w.name == "Invoice Approval")
    process = await client.start_workflow(workflow, [doc])
    await client.node_categories(workspace)  # warm the name cache like a running sink would
    return World(client, folder, doc, source, workspace, workflow, process, tmp)


async def check(world: World, emulator: RunningEmulator, call: Call, mode: str,
                operations: list[str] | None = None) -> None:
    spec, error, retry_after = MODES[mode]
    await admin(emulator, "POST", "faults", json=spec | ({"operations": operations} if operations else {}))
    started = time.monotonic()
    if error is None:
        await call(world)
        return
    with pytest.raises(SinkUnavailable) as err:
        await call(world)
    assert type(err.value) is error, f"{type(err.value).__name__}: {err.value}"
    assert err.value.retriable and err.value.target == "opentext"
    assert getattr(err.value, "retry_after", None) == retry_after
    if mode == "hang":
        assert "timed out" in str(err.value)
        assert time.monotonic() - started < TIMEOUT_S * 4
    else:
        assert err.value.status in (500, 503)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(CALLS))
async def test_ticket_client_call_under_fault(name: str, mode: str, emulator: RunningEmulator, tmp_path: Path) -> None:
    async with OpenTextClient(settings_for(emulator, request_timeout_s=timeout_for(mode))) as client:
        world = await build_world(client, tmp_path, emulator)
        await check(world, emulator, CALLS[name], mode)


OTDS_MODES = ["none", "json500", "503_retry_after", "hang"]


@pytest.mark.parametrize("mode", [*OTDS_MODES, "expired_tokens"])
@pytest.mark.parametrize("name", ["get_node", "upload_version", "download_to", "update_categories"])
async def test_otds_client_call_under_fault(name: str, mode: str, emulator: RunningEmulator, tmp_path: Path) -> None:
    async with OpenTextClient(otds_settings_for(emulator, request_timeout_s=timeout_for(mode))) as client:
        world = await build_world(client, tmp_path, emulator)
        if mode == "expired_tokens":
            await admin(emulator, "POST", "faults", json={"expire_tokens": True})
            await CALLS[name](world)
            assert (await admin(emulator, "GET", "calls"))["otds.token"] == 2
        else:
            await check(world, emulator, CALLS[name], mode)


# Faults on the streaming calls themselves (the lookups before them answer normally).
STREAMING = {
    "upload_new": "nodes.create",
    "upload_version": "versions.add",
    "download_to": "content.get",
}


@pytest.mark.parametrize("mode", ["json500", "html500", "503_retry_after", "hang"])
@pytest.mark.parametrize("name", list(STREAMING))
async def test_streaming_call_under_fault(name: str, mode: str, emulator: RunningEmulator, tmp_path: Path) -> None:
    async with OpenTextClient(settings_for(emulator, request_timeout_s=timeout_for(mode))) as client:
        world = await build_world(client, tmp_path, emulator)
        await check(world, emulator, CALLS[name], mode, operations=[STREAMING[name]])
    assert not any(tmp_path.glob(".download-*"))  # noqa: ASYNC240 - no partial download left behind


async def test_a_cold_client_fails_at_login_with_the_same_classes(emulator: RunningEmulator) -> None:
    await admin(emulator, "POST", "faults", json={"error_rate": 1, "error_kind": "503", "retry_after_s": 1})
    async with OpenTextClient(settings_for(emulator)) as client:
        with pytest.raises(SinkBackpressure) as err:
            await client.get_node(2000)
    assert err.value.retry_after == 1.0 and "auth.login" in str(err.value)
