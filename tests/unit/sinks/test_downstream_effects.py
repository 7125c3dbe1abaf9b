"""Approvals and notifications through the downstream sink, against the ERP and chat emulators: one
effect per command, however often it is sent, even after the target forgot its Idempotency-Keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from xstream.emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream.emulators.notify import NotifyEmulatorConfig, RunningNotifyEmulator, start_notify_emulator
from xstream.emulators.serving import serve
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, DocumentLink, Notify, RecordPointer, StartApproval
from xstream.model.status import DownstreamRecord, Outcome
from xstream.settings import TargetSettings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectEntry, EffectLedger

BO = BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="0000300001")
DOC = DocumentLink(node_id=100123, name="Supply Agreement 2027.pdf", url="https://ecm/app/nodes/100123", version=2)
CAUSE = Causation(source_system="opentext", entity="document", op="document.attributes_changed",
                  source_position="3f1c2b9a7d4e5f60718293a4b5c6d7e8f9012345", topic="opentext.events", partition=1,
                  offset=4)


class MemoryStore:
    """The effects topic as a list; ``fail`` makes the next saves raise (broker down)."""

    def __init__(self) -> None:
        self.entries: list[EffectEntry] = []
        self.fail = 0

    async def load(self) -> list[EffectEntry]:
        return list(self.entries)

    async def save(self, entry: EffectEntry) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("broker unavailable")
        self.entries.append(entry)

    async def close(self) -> None:
        return None


def approval(key: str = "approval-key-0000001") -> StartApproval:
    return StartApproval(idempotency_key=key, target="erp", process="commercial_approval",
                         subject="Commercial approval: Supply Agreement 2027.pdf",
                         record=RecordPointer(entity="suppliers", id="0000300001"), fields={"legal_status": "done"},
                         business_object=BO, causation=CAUSE, rule="supplier-contract-legal-review-done", document=DOC)


def note(key: str = "notify-key-00000001", channel: str = "commercial") -> Notify:
    return Notify(idempotency_key=key, target="chat", channel=channel, title="Approval started: Supply Agreement",
                  text="Legal review is *done*.", facts={"Document": DOC.name, "Status": "Legal Review Done"},
                  link_title="Open in OpenText", link_url=DOC.url, business_object=BO, causation=CAUSE,
                  rule="supplier-contract-legal-review-done", document=DOC)


async def admin(base: str, what: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/{what}") as resp:
        return await resp.json()


@pytest.fixture
async def erp() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def chat() -> AsyncIterator[RunningNotifyEmulator]:
    async with await start_notify_emulator(NotifyEmulatorConfig()) as emu:
        yield emu


def erp_sink(erp: RunningErpEmulator, store: MemoryStore) -> DownstreamSink:
    return DownstreamSink("erp", TargetSettings(base_url=erp.url, request_timeout_s=2.0), effects=EffectLedger(store))


def chat_sink(chat: RunningNotifyEmulator, store: MemoryStore, fmt: str = "slack") -> DownstreamSink:
    channels = {name: SecretStr(chat.channel_url(name, fmt)) for name in ("commercial", "legal")}  # type: ignore[arg-type]
    settings = TargetSettings(kind="notify", format=fmt, channels=channels, request_timeout_s=2.0)  # type: ignore[arg-type]
    return DownstreamSink("chat", settings, effects=EffectLedger(store))


async def test_an_approval_starts_once_with_its_reference_and_is_recorded_as_an_effect(erp: RunningErpEmulator) -> None:
    store = MemoryStore()
    sink = erp_sink(erp, store)
    (result,) = await sink.write([approval()])
    assert result.outcome is Outcome.APPLIED
    (started,) = erp.state.records.query("approvals", {})
    assert result.downstream == DownstreamRecord(target="erp", entity="approvals", record_id=started["id"],
                                                 url=f"{erp.url}/approvals/{started['id']}")
    assert started["process"] == "commercial_approval" and started["status"] == "pending"
    assert started["record"] == {"entity": "suppliers", "id": "0000300001"}
    assert started["reference"]["document_id"] == DOC.node_id and started["reference"]["version"] == 2
    assert started["reference"]["business_object"] == "SAP_PRD/LFA1/0000300001"
    assert started["fields"] == {"legal_status": "done"} and started["last_changed_by"] == "xstream"
    assert [(e.idempotency_key, e.record) for e in store.entries] == [("approval-key-0000001", result.downstream)]

    calls = (await admin(erp.admin_url, "calls")).get("approvals.create", 0)
    (again,) = await sink.write([approval()])
    assert again.outcome is Outcome.ALREADY_APPLIED and again.downstream == result.downstream
    assert (await admin(erp.admin_url, "calls")).get("approvals.create", 0) == calls  # answered by the ledger
    await sink.close()


async def test_a_new_deployment_starts_no_second_approval_after_the_target_forgot_the_key(
        erp: RunningErpEmulator) -> None:
    store = MemoryStore()
    first = erp_sink(erp, store)
    (result,) = await first.write([approval()])
    await first.close()
    erp.state.keys = type(erp.state.keys)(0.001, erp.state.clock)  # the ERP's key store expired everything
    replayed = erp_sink(erp, store)
    await replayed.refresh()  # on partition assignment: the effects topic is read back
    (again,) = await replayed.write([approval()])
    assert again.outcome is Outcome.ALREADY_APPLIED and again.downstream == result.downstream
    assert len(erp.state.records.query("approvals", {})) == 1
    await replayed.close()


async def test_a_started_approval_whose_ledger_write_failed_is_not_started_again_on_retry(
        erp: RunningErpEmulator) -> None:
    store = MemoryStore()
    store.fail = 1
    sink = erp_sink(erp, store)
    (first,) = await sink.write([approval()])
    assert not first.finished and "effect ledger not written" in (first.detail or "")
    (retried,) = await sink.write([approval()])
    assert retried.outcome is Outcome.APPLIED  # reported as applied: it was, once
    assert len(erp.state.records.query("approvals", {})) == 1 and len(store.entries) == 1
    await sink.close()


async def test_an_approval_the_target_refuses_is_rejected(erp: RunningErpEmulator) -> None:
    sink = erp_sink(erp, MemoryStore())
    bad = approval().model_copy(update={"record": RecordPointer(entity="no-such-entity", id="1")})
    (result,) = await sink.write([bad])
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.REJECTED_BY_TARGET
    assert "422" in (result.detail or "")
    await sink.close()


@pytest.mark.parametrize("fmt", ["slack", "teams"])
async def test_a_notification_is_posted_once_and_its_secret_url_stays_out_of_the_result(
        chat: RunningNotifyEmulator, fmt: str) -> None:
    store = MemoryStore()
    sink = chat_sink(chat, store, fmt)
    (result,) = await sink.write([note()])
    assert result.outcome is Outcome.APPLIED
    assert result.downstream == DownstreamRecord(target="chat", entity="channels", record_id="commercial", url=None)
    (message,) = (await admin(chat.admin_url, "messages"))["messages"]
    assert message["channel"] == "commercial" and message["format"] == fmt
    assert "Approval started: Supply Agreement" in message["text"] and "Legal review is *done*." in message["text"]
    assert message["headers"]["Idempotency-Key"] == '"notify-key-00000001"'
    (again,) = await sink.write([note()])
    assert again.outcome is Outcome.ALREADY_APPLIED
    assert (await admin(chat.admin_url, "messages"))["count"] == 1  # the webhook itself would have posted twice
    await sink.close()


async def test_a_notification_for_an_unknown_channel_is_rejected_with_the_channels_named(
        chat: RunningNotifyEmulator) -> None:
    sink = chat_sink(chat, MemoryStore())
    (result,) = await sink.write([note(channel="marketing")])
    assert result.outcome is Outcome.REJECTED
    assert "no channel 'marketing'" in (result.detail or "") and "commercial, legal" in (result.detail or "")
    await sink.close()


async def test_a_rate_limited_notification_waits_for_retry_after(chat: RunningNotifyEmulator) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.admin_url}/faults", json={"error_rate": 1.0, "error_kind": "429", "retry_after_s": 3}) as resp:
        assert resp.status == 200
    sink = chat_sink(chat, MemoryStore())
    (result,) = await sink.write([note()])
    assert not result.finished and result.retry_after == 3.0
    await sink.close()


async def test_commands_of_the_wrong_kind_for_the_target_are_rejected(erp: RunningErpEmulator,
                                                                      chat: RunningNotifyEmulator) -> None:
    records, notify = erp_sink(erp, MemoryStore()), chat_sink(chat, MemoryStore())
    (wrong,) = await records.write([note().model_copy(update={"target": "erp"})])
    assert wrong.outcome is Outcome.REJECTED and wrong.reason is DeadLetterReason.INVALID_COMMAND
    (also,) = await notify.write([approval().model_copy(update={"target": "chat"})])
    assert also.outcome is Outcome.REJECTED and "records target" in (also.detail or "")
    await records.close()
    await notify.close()


async def test_channel_names_compare_ignoring_case(chat: RunningNotifyEmulator) -> None:
    sink = chat_sink(chat, MemoryStore())
    (result,) = await sink.write([note(channel="Commercial")])
    assert result.outcome is Outcome.APPLIED
    await sink.close()


async def test_the_credential_in_a_webhook_url_never_reaches_an_error_and_no_auth_header_is_sent() -> None:
    closed = "http://127.0.0.1:9/slack/commercial/SECRET-TOKEN-123"  # nothing listens on port 9
    settings = TargetSettings(kind="notify", channels={"commercial": SecretStr(closed)}, request_timeout_s=2.0,
                              auth={"kind": "bearer", "token": SecretStr("records-api-token")})  # type: ignore[arg-type]
    sink = DownstreamSink("chat", settings, effects=EffectLedger(MemoryStore()))
    (result,) = await sink.write([note()])
    assert not result.finished and "SECRET-TOKEN" not in (result.detail or "")
    await sink.close()
    seen: list[dict[str, str]] = []

    async def capture(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack/commercial/SECRET-TOKEN-123", capture)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{port}/slack/commercial/SECRET-TOKEN-123"
        sink = DownstreamSink("chat", settings.model_copy(update={"channels": {"commercial": SecretStr(url)}}),
                              effects=EffectLedger(MemoryStore()))
        assert (await sink.write([note()]))[0].outcome is Outcome.APPLIED
        await sink.close()
    finally:
        await runner.cleanup()
    (headers,) = seen
    assert "Authorization" not in headers and headers["Idempotency-Key"] == '"notify-key-00000001"'
