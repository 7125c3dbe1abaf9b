"""Approvals and notifications through the downstream sink, against the ERP and chat emulators: one
effect per command, however often it is sent, even after the target forgot its Idempotency-Keys and
in a new deployment (the effect ledger on the in-memory Kafka log)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream_emulators.notify import NotifyEmulatorConfig, RunningNotifyEmulator, start_notify_emulator
from xstream_emulators.serving import serve

from tests.support.memory_log import MemoryLog
from tests.unit.sinks.support import (
    EFFECTS_TOPIC,
    assert_pending_until_delivered,
    effect_store,
    only,
    partition_of,
)
from xstream.errors import DeadLetterReason
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, DocumentLink, Notify, RecordPointer, StartApproval
from xstream.model.status import DownstreamRecord, Outcome
from xstream.settings import TargetSettings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectLedger

BO = BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="0000300001")
DOC = DocumentLink(node_id=100123, name="Supply Agreement 2027.pdf", url="https://ecm/app/nodes/100123", version=2)
CAUSE = Causation(source_system="opentext", entity="document", op="document.attributes_changed",
                  source_position="3f1c2b9a7d4e5f60718293a4b5c6d7e8f9012345", topic="opentext.events", partition=1,
                  offset=4)
Deploy = Callable[..., Awaitable[DownstreamSink]]


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


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
async def deploy() -> AsyncIterator[Deploy]:
    """A worker's sink with its effect ledger on a log (loaded now); a second call over the same log is
    a new deployment. Closed at the end."""
    sinks: list[DownstreamSink] = []

    async def make(name: str, settings: TargetSettings, log: MemoryLog) -> DownstreamSink:
        sink = DownstreamSink(name, settings, EffectLedger(await effect_store(log, name)))
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        await sink.close()


def erp_settings(erp: RunningErpEmulator) -> TargetSettings:
    return TargetSettings(base_url=erp.url, request_timeout_s=2.0)


def chat_settings(chat: RunningNotifyEmulator, fmt: str = "slack") -> TargetSettings:
    channels = {name: SecretStr(chat.channel_url(name, fmt)) for name in ("commercial", "legal")}  # type: ignore[arg-type]
    return TargetSettings(kind="notify", format=fmt, channels=channels, request_timeout_s=2.0)  # type: ignore[arg-type]


async def test_an_approval_starts_once_with_its_reference_and_is_recorded_as_an_effect(
        erp: RunningErpEmulator, log: MemoryLog, deploy: Deploy) -> None:
    sink = await deploy("erp", erp_settings(erp), log)
    result = await sink.apply(approval())
    assert result.outcome is Outcome.APPLIED
    (started,) = erp.state.records.query("approvals", {})
    assert result.downstream == DownstreamRecord(target="erp", entity="approvals", record_id=started["id"],
                                                 url=f"{erp.url}/approvals/{started['id']}")
    assert started["process"] == "commercial_approval" and started["status"] == "pending"
    assert started["record"] == {"entity": "suppliers", "id": "0000300001"}
    assert started["reference"]["document_id"] == DOC.node_id and started["reference"]["version"] == 2
    assert started["reference"]["business_object"] == "SAP_PRD/LFA1/0000300001"
    assert started["fields"] == {"legal_status": "done"} and started["last_changed_by"] == "xstream"
    assert log.values(EFFECTS_TOPIC) == [{"idempotency_key": "approval-key-0000001", "target": "erp",
                                          "kind": "start_approval",
                                          "record": result.downstream.model_dump(mode="json")}]

    calls = (await admin(erp.admin_url, "calls")).get("approvals.create", 0)
    again = await sink.apply(approval())
    assert again.outcome is Outcome.ALREADY_APPLIED and again.downstream == result.downstream
    assert (await admin(erp.admin_url, "calls")).get("approvals.create", 0) == calls  # answered by the ledger


async def test_a_new_deployment_starts_no_second_approval_after_the_target_forgot_the_key(
        erp: RunningErpEmulator, log: MemoryLog, deploy: Deploy) -> None:
    first = await deploy("erp", erp_settings(erp), log)
    result = await first.apply(approval())
    assert result.outcome is Outcome.APPLIED
    erp.state.keys = type(erp.state.keys)(0.001, erp.state.clock)  # the ERP's key store expired everything
    calls = (await admin(erp.admin_url, "calls")).get("approvals.create", 0)
    replayed = await deploy("erp", erp_settings(erp), log)  # its own store, read after the first one wrote
    again = await replayed.apply(approval())
    assert again.outcome is Outcome.ALREADY_APPLIED and again.downstream == result.downstream
    assert len(erp.state.records.query("approvals", {})) == 1
    assert (await admin(erp.admin_url, "calls")).get("approvals.create", 0) == calls


async def test_the_effect_is_recorded_before_apply_returns_and_only_when_applied(
        erp: RunningErpEmulator, chat: RunningNotifyEmulator, deploy: Deploy) -> None:
    log = MemoryLog(auto_deliver=False)  # deliveries wait for the test: "written" and "durable" differ
    approvals = await deploy("erp", erp_settings(erp), log)
    started = await approvals.apply(approval())
    assert started.outcome is Outcome.APPLIED
    entry = only(log.records(EFFECTS_TOPIC))
    assert entry.key == b"erp:approval-key-0000001"
    assert entry.partition == partition_of(BO.kafka_key, log)  # co-partitioned with the command topic
    await assert_pending_until_delivered(log, approvals.state.barrier(entry.partition))

    refused = await approvals.apply(approval("approval-key-0000002").model_copy(
        update={"record": RecordPointer(entity="no-such-entity", id="1")}))
    assert refused.outcome is Outcome.REJECTED

    notify = await deploy("chat", chat_settings(chat), log)
    unknown = await notify.apply(note("notify-key-00000002", channel="marketing"))
    assert unknown.outcome is Outcome.REJECTED
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.admin_url}/faults", json={"error_rate": 1.0, "error_kind": "503"}) as resp:
        assert resp.status == 200
    unfinished = await notify.apply(note())
    assert not unfinished.finished
    assert len(log.records(EFFECTS_TOPIC)) == 1, "nothing recorded for a rejected or unfinished command"
    async with aiohttp.ClientSession() as http, http.post(f"{chat.admin_url}/faults", json={}) as resp:
        assert resp.status == 200
    posted = await notify.apply(note())
    assert posted.outcome is Outcome.APPLIED
    assert [r.key for r in log.records(EFFECTS_TOPIC)] == [b"erp:approval-key-0000001", b"chat:notify-key-00000001"]


async def test_an_approval_the_target_refuses_is_rejected(erp: RunningErpEmulator, log: MemoryLog,
                                                          deploy: Deploy) -> None:
    sink = await deploy("erp", erp_settings(erp), log)
    bad = approval().model_copy(update={"record": RecordPointer(entity="no-such-entity", id="1")})
    result = await sink.apply(bad)
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.REJECTED_BY_TARGET
    assert "422" in (result.detail or "")
    assert erp.state.records.query("approvals", {}) == []


@pytest.mark.parametrize("fmt", ["slack", "teams"])
async def test_a_notification_is_posted_once_and_its_secret_url_stays_out_of_the_result(
        chat: RunningNotifyEmulator, log: MemoryLog, deploy: Deploy, fmt: str) -> None:
    sink = await deploy("chat", chat_settings(chat, fmt), log)
    result = await sink.apply(note())
    assert result.outcome is Outcome.APPLIED
    assert result.downstream == DownstreamRecord(target="chat", entity="channels", record_id="commercial", url=None)
    (message,) = (await admin(chat.admin_url, "messages"))["messages"]
    assert message["channel"] == "commercial" and message["format"] == fmt
    assert "Approval started: Supply Agreement" in message["text"] and "Legal review is *done*." in message["text"]
    assert message["headers"]["Idempotency-Key"] == '"notify-key-00000001"'
    assert "-token" not in str(log.values(EFFECTS_TOPIC))  # the webhook's credential is not recorded either
    again = await sink.apply(note())
    assert again.outcome is Outcome.ALREADY_APPLIED
    redeployed = await deploy("chat", chat_settings(chat, fmt), log)
    assert (await redeployed.apply(note())).outcome is Outcome.ALREADY_APPLIED
    assert (await admin(chat.admin_url, "messages"))["count"] == 1  # the webhook itself would have posted thrice


async def test_a_notification_for_an_unknown_channel_is_rejected_with_the_channels_named(
        chat: RunningNotifyEmulator, log: MemoryLog, deploy: Deploy) -> None:
    sink = await deploy("chat", chat_settings(chat), log)
    result = await sink.apply(note(channel="marketing"))
    assert result.outcome is Outcome.REJECTED
    assert "no channel 'marketing'" in (result.detail or "") and "commercial, legal" in (result.detail or "")


async def test_a_rate_limited_notification_waits_for_retry_after(chat: RunningNotifyEmulator, log: MemoryLog,
                                                                 deploy: Deploy) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.admin_url}/faults", json={"error_rate": 1.0, "error_kind": "429", "retry_after_s": 3}) as resp:
        assert resp.status == 200
    sink = await deploy("chat", chat_settings(chat), log)
    result = await sink.apply(note())
    assert not result.finished and result.retry_after == 3.0
    assert (await admin(chat.admin_url, "messages"))["count"] == 0


async def test_commands_of_the_wrong_kind_for_the_target_are_rejected(erp: RunningErpEmulator,
                                                                      chat: RunningNotifyEmulator,
                                                                      log: MemoryLog, deploy: Deploy) -> None:
    records = await deploy("erp", erp_settings(erp), log)
    notify = await deploy("chat", chat_settings(chat), log)
    wrong = await records.apply(note().model_copy(update={"target": "erp"}))
    assert wrong.outcome is Outcome.REJECTED and wrong.reason is DeadLetterReason.INVALID_COMMAND
    also = await notify.apply(approval().model_copy(update={"target": "chat"}))
    assert also.outcome is Outcome.REJECTED and "records target" in (also.detail or "")
    assert (await admin(chat.admin_url, "messages"))["count"] == 0
    assert erp.state.records.query("approvals", {}) == []


async def test_channel_names_compare_ignoring_case(chat: RunningNotifyEmulator, log: MemoryLog,
                                                   deploy: Deploy) -> None:
    sink = await deploy("chat", chat_settings(chat), log)
    result = await sink.apply(note(channel="Commercial"))
    assert result.outcome is Outcome.APPLIED
    (message,) = (await admin(chat.admin_url, "messages"))["messages"]
    assert message["channel"] == "commercial"


async def test_the_credential_in_a_webhook_url_never_reaches_an_error_and_no_auth_header_is_sent(
        log: MemoryLog, deploy: Deploy) -> None:
    closed = "http://127.0.0.1:9/slack/commercial/SECRET-TOKEN-123"  # nothing listens on port 9
    settings = TargetSettings(kind="notify", channels={"commercial": SecretStr(closed)}, request_timeout_s=2.0,
                              auth={"kind": "bearer", "token": SecretStr("records-api-token")})  # type: ignore[arg-type]
    sink = await deploy("chat", settings, log)
    result = await sink.apply(note())
    assert not result.finished and "SECRET-TOKEN" not in (result.detail or "")
    seen: list[dict[str, str]] = []

    async def capture(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack/commercial/SECRET-TOKEN-123", capture)
    runner, port = await serve(app, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{port}/slack/commercial/SECRET-TOKEN-123"
        sink = await deploy("chat", settings.model_copy(update={"channels": {"commercial": SecretStr(url)}}), log)
        assert (await sink.apply(note())).outcome is Outcome.APPLIED
    finally:
        await runner.cleanup()
    (headers,) = seen
    assert "Authorization" not in headers and headers["Idempotency-Key"] == '"notify-key-00000001"'
    (recorded,) = log.values(EFFECTS_TOPIC)
    assert recorded["record"] == {"target": "chat", "entity": "channels", "record_id": "commercial", "url": None}
    assert "SECRET-TOKEN" not in str(log.records(EFFECTS_TOPIC))


@pytest.mark.parametrize(("delivery", "outcome", "posted"), [("at_least_once", None, 1), ("at_most_once", "applied", 1)])
async def test_a_lost_chat_answer_is_sent_again_or_not_as_the_target_says(
        chat: RunningNotifyEmulator, log: MemoryLog, deploy: Deploy, delivery: str, outcome: str | None,
        posted: int) -> None:
    """An incoming webhook neither de-duplicates nor can be asked: a lost answer leaves the choice between
    a message that may appear twice (resent) and one that may be missing (not resent)."""
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.admin_url}/faults", json={"lost_answer_rate": 1.0}) as resp:
        assert resp.status == 200
    settings = chat_settings(chat).model_copy(update={"delivery": delivery})
    sink = await deploy("chat", settings, log)
    result = await sink.apply(note())
    assert (result.outcome.value if result.outcome else None) == outcome
    if outcome is None:
        assert "answer was lost" in (result.detail or "")  # unfinished: the runner sends it again
    assert (await admin(chat.admin_url, "messages"))["count"] == posted
    assert bool(log.values("xstream.effects")) is (outcome is not None)
