"""The downstream HTTP sink against the ERP emulator, one command at a time: results, the effect
ledger (on the in-memory Kafka log) and Idempotency-Key replays, error classification at the
boundary, authentication variants.

Order per record, bounded concurrency, retries and the breaker are the runner's (tests/unit/test_runner.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

from tests.support.memory_log import MemoryLog
from tests.support.wait import until
from tests.unit.sinks.support import (
    EFFECTS_TOPIC,
    assert_pending_until_delivered,
    effect_store,
    only,
    partition_of,
)
from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    EditConflict,
    IdempotencyKeyReused,
    RequestInFlight,
    SinkBackpressure,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)
from xstream.http.status import classify
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, UpdateRecord
from xstream.model.status import DownstreamRecord, Outcome
from xstream.settings import TargetAuth, TargetSettings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.effects import EffectLedger
from xstream.sinks.target import TargetClient

SECRET = "erp-secret"
MakeSink = Callable[..., Awaitable[DownstreamSink]]


def command(record_id: str, offset: int, fields: dict[str, Any] | None = None, *, bo_id: str | None = None,
            key: str | None = None, entity: str = "customers", target: str = "erp") -> UpdateRecord:
    return UpdateRecord(
        idempotency_key=key or f"key-{record_id}-{offset}".ljust(16, "0"),
        target=target, entity=entity, record_id=record_id,
        fields=fields if fields is not None else {"links": {"workspace_id": offset}},
        business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id=bo_id or record_id),
        causation=Causation(source_system="opentext", entity="workspaces", op="u", source_position=f"evt:{offset}",
                            topic="opentext.events", partition=0, offset=offset),
    )


async def admin(emu: RunningErpEmulator, what: str, method: str = "GET", json: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, f"{emu.admin_url}/{what}", json=json) as r:
        return await r.json()


async def seed(emu: RunningErpEmulator, *ids: str) -> None:
    for record_id in ids:
        await admin(emu, "records/customers", "POST", {"id": record_id, "name": f"Customer {record_id}"})


def settings_for(emu: RunningErpEmulator, auth: TargetAuth | None = None, **kw: Any) -> TargetSettings:
    return TargetSettings(base_url=emu.url, auth=auth or TargetAuth(), **kw)


def forget_keys(emu: RunningErpEmulator) -> None:
    """The ERP's Idempotency-Key store expires everything it holds."""
    emu.state.keys = type(emu.state.keys)(0.001, emu.state.clock)


@pytest.fixture
async def emulator() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        await seed(emu, "1", "2", "3")
        yield emu


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
async def make() -> AsyncIterator[MakeSink]:
    """A worker's sink for a target, its effect ledger on ``log`` (loaded now); closed at the end."""
    sinks: list[DownstreamSink] = []

    async def make_sink(settings: TargetSettings, log: MemoryLog, *, name: str = "erp",
                        client: TargetClient | None = None) -> DownstreamSink:
        sink = DownstreamSink(name, settings, EffectLedger(await effect_store(log, name)), client)
        sinks.append(sink)
        return sink

    yield make_sink
    for sink in sinks:
        await sink.close()


@pytest.fixture
async def sink(emulator: RunningErpEmulator, log: MemoryLog, make: MakeSink) -> DownstreamSink:
    sink = await make(settings_for(emulator, request_timeout_s=2.0), log)
    await sink.start()
    return sink


async def test_applied_with_the_downstream_record_and_who_changed_it(sink: DownstreamSink,
                                                                     emulator: RunningErpEmulator) -> None:
    result = await sink.apply(command("1", 7, {"links": {"workspace_url": "https://ecm/app/nodes/7"}}))
    assert result.outcome is Outcome.APPLIED
    assert result.downstream == DownstreamRecord(target="erp", entity="customers", record_id="1",
                                                 url=f"{emulator.url}/customers/1")
    record = emulator.state.records.get("customers", "1")
    assert record["links"] == {"workspace_url": "https://ecm/app/nodes/7"}
    assert record["last_changed_by"] == "xstream"
    assert record["last_causation"] == "opentext/workspaces/evt:7"
    (change,) = emulator.state.changes.since(0, "customers")[-1:]
    assert change.value["op"] == "u" and change.value["after"]["last_changed_by"] == "xstream"


async def test_a_replayed_command_is_answered_from_the_effect_ledger_without_a_call(
        sink: DownstreamSink, emulator: RunningErpEmulator) -> None:
    first = await sink.apply(command("1", 1))
    calls = await admin(emulator, "calls")
    again = await sink.apply(command("1", 1))
    assert (first.outcome, again.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert again.downstream == first.downstream
    assert await admin(emulator, "calls") == calls  # not even the PATCH: the ledger answered


async def test_a_repeat_the_ledger_did_not_keep_is_answered_by_the_targets_idempotency_key(
        sink: DownstreamSink, emulator: RunningErpEmulator, make: MakeSink) -> None:
    """The crash window: the target applied the update, the effect entry never became durable. The
    repeat carries the same Idempotency-Key; the ERP answers from its key store (Idempotent-Replayed)."""
    first = await sink.apply(command("1", 1))
    calls = await admin(emulator, "calls")
    unaware = await make(settings_for(emulator), MemoryLog())  # a ledger without the entry
    again = await unaware.apply(command("1", 1))
    assert (first.outcome, again.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert again.downstream == first.downstream
    after = await admin(emulator, "calls")
    assert after["state_changing"] == calls["state_changing"]
    assert after["records.patch"] == calls["records.patch"] + 1
    assert emulator.state.records.get("customers", "1")["version"] == 2


async def test_a_replayed_old_update_does_not_undo_a_newer_one_after_the_target_forgot_its_keys(
        sink: DownstreamSink, emulator: RunningErpEmulator, log: MemoryLog, make: MakeSink) -> None:
    old = await sink.apply(command("1", 1, {"owner": "a"}))
    new = await sink.apply(command("1", 2, {"owner": "b"}))
    assert (old.outcome, new.outcome) == (Outcome.APPLIED, Outcome.APPLIED)
    forget_keys(emulator)
    redeployed = await make(settings_for(emulator), log)  # its effect ledger read after both were written
    calls = await admin(emulator, "calls")
    replayed = await redeployed.apply(command("1", 1, {"owner": "a"}))
    assert replayed.outcome is Outcome.ALREADY_APPLIED and replayed.downstream == old.downstream
    assert await admin(emulator, "calls") == calls
    assert emulator.state.records.get("customers", "1")["owner"] == "b"


@pytest.mark.parametrize(("cmd", "error"), [
    (command("404", 1), "TargetNotFound"),
    (command("1", 2, {"version": 9}), "SinkRejected"),
    (command("1", 3, entity="planets"), "TargetNotFound"),
])
async def test_permanent_errors_are_rejected(sink: DownstreamSink, log: MemoryLog, cmd: UpdateRecord,
                                             error: str) -> None:
    result = await sink.apply(cmd)
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.REJECTED_BY_TARGET
    assert (result.detail or "").startswith(error)
    assert log.values(EFFECTS_TOPIC) == []


async def test_a_key_reused_with_other_fields_is_rejected_by_the_target(
        sink: DownstreamSink, emulator: RunningErpEmulator, make: MakeSink) -> None:
    await sink.apply(command("1", 1, {"owner": "a"}, key="same-key-000000000"))
    other_worker = await make(settings_for(emulator), MemoryLog())
    result = await other_worker.apply(command("1", 1, {"owner": "b"}, key="same-key-000000000"))
    assert result.outcome is Outcome.REJECTED
    assert (result.detail or "").startswith("IdempotencyKeyReused")
    assert emulator.state.records.get("customers", "1")["owner"] == "a"


async def test_the_effect_is_recorded_before_apply_returns_and_only_when_applied(
        emulator: RunningErpEmulator, make: MakeSink) -> None:
    log = MemoryLog(auto_deliver=False)  # deliveries wait for the test: "written" and "durable" differ
    sink = await make(settings_for(emulator, request_timeout_s=2.0), log)
    applied = await sink.apply(command("1", 1, bo_id="0000050031"))
    assert applied.outcome is Outcome.APPLIED and applied.downstream is not None
    entry = only(log.records(EFFECTS_TOPIC))
    key = command("1", 1).idempotency_key
    assert entry.key == f"erp:{key}".encode()
    assert entry.partition == partition_of("SAP_PRD/KNA1/0000050031", log)  # co-partitioned with the commands
    assert entry.json() == {"idempotency_key": key, "target": "erp", "kind": "update_record",
                            "record": applied.downstream.model_dump(mode="json")}
    await assert_pending_until_delivered(log, sink.state.barrier(entry.partition))  # what the runner waits for

    rejected = await sink.apply(command("404", 2))
    assert rejected.outcome is Outcome.REJECTED
    await admin(emulator, "faults", "POST", {"error_rate": 1.0, "error_kind": "503"})
    unfinished = await sink.apply(command("2", 3))
    assert not unfinished.finished
    assert len(log.records(EFFECTS_TOPIC)) == 1, "nothing recorded for a rejected or unfinished command"


@pytest.mark.parametrize(("faults", "retry_after"), [
    ({"error_rate": 1.0, "error_kind": "503", "retry_after_s": 3}, 3.0),
    ({"error_rate": 1.0, "error_kind": "429", "retry_after_s": 1}, 1.0),
    ({"error_rate": 1.0, "error_kind": "500"}, None),
    ({"error_rate": 1.0, "error_kind": "503"}, None),
])
async def test_transient_errors_leave_the_command_unfinished(sink: DownstreamSink, emulator: RunningErpEmulator,
                                                             log: MemoryLog, faults: dict[str, Any],
                                                             retry_after: float | None) -> None:
    await admin(emulator, "faults", "POST", faults)
    result = await sink.apply(command("1", 1))
    assert result.outcome is None and not result.finished
    assert result.retry_after == retry_after
    assert log.values(EFFECTS_TOPIC) == []
    await admin(emulator, "faults", "POST", {})
    result = await sink.apply(command("1", 1))
    assert result.outcome is Outcome.APPLIED  # the faulted call did nothing, so the retry applies it
    assert emulator.state.records.get("customers", "1")["version"] == 2


async def test_a_hanging_target_times_out_as_transient(emulator: RunningErpEmulator, log: MemoryLog,
                                                       make: MakeSink) -> None:
    sink = await make(settings_for(emulator, request_timeout_s=0.3), log)
    await admin(emulator, "faults", "POST", {"hang_rate": 1.0})
    started = time.monotonic()
    result = await sink.apply(command("1", 1))
    assert result.outcome is None and "timed out" in (result.detail or "")
    assert time.monotonic() - started < 2
    assert log.values(EFFECTS_TOPIC) == []


async def test_an_unreachable_target_is_transient(emulator: RunningErpEmulator, log: MemoryLog,
                                                  make: MakeSink) -> None:
    sink = await make(settings_for(emulator), log)
    await emulator.stop()
    result = await sink.apply(command("1", 1))
    assert result.outcome is None


async def test_a_key_still_in_flight_is_transient_and_applied_once(emulator: RunningErpEmulator, log: MemoryLog,
                                                                  make: MakeSink) -> None:
    """Two workers send one command at once (a revoked owner still busy, the new owner starting)."""
    first, second = await make(settings_for(emulator), log), await make(settings_for(emulator), log)
    # the first PATCH is held in the ERP after it claimed the key (latency comes after the claim)
    await admin(emulator, "faults", "POST", {"latency_ms": [1000, 1000], "operations": ["records.patch"]})
    running = asyncio.create_task(first.apply(command("1", 1)))
    await until(lambda: len(emulator.state.keys) == 1)  # the key is claimed: the first call is in the ERP
    assert not running.done()
    in_flight = await second.apply(command("1", 1))
    assert not running.done(), "the first call must still be held when the second is answered"
    applied = await running
    await admin(emulator, "faults", "POST", {})
    replayed = await second.apply(command("1", 1))  # its ledger has not seen the first worker's entry
    assert in_flight.outcome is None and in_flight.retry_after == 1.0
    assert "idempotency_key_in_use" in (in_flight.detail or "")
    assert (applied.outcome, replayed.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert emulator.state.records.get("customers", "1")["version"] == 2
    assert (await admin(emulator, "calls"))["records.patch"] == 3


async def test_a_command_for_another_target_is_invalid(sink: DownstreamSink, emulator: RunningErpEmulator) -> None:
    result = await sink.apply(command("1", 1, target="crm"))
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.INVALID_COMMAND
    assert (await admin(emulator, "calls")).get("records.patch", 0) == 0


# --- authentication -----------------------------------------------------------------------------------


@pytest.fixture
async def oauth_erp() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="oauth2")) as emu:
        await seed(emu, "1", "2", "3")
        yield emu


def oauth(emu: RunningErpEmulator, secret: str = SECRET) -> TargetAuth:
    return TargetAuth(kind="oauth2", token_url=emu.token_url, client_id="xstream", client_secret=SecretStr(secret))


async def test_oauth2_token_is_fetched_once_and_refreshed_once_on_401(oauth_erp: RunningErpEmulator,
                                                                       log: MemoryLog, make: MakeSink) -> None:
    sink = await make(settings_for(oauth_erp, oauth(oauth_erp)), log)
    await sink.start()
    results = await asyncio.gather(*(sink.apply(command(str(i), i)) for i in (1, 2, 3)))
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert (await admin(oauth_erp, "calls"))["oauth.token"] == 1
    await admin(oauth_erp, "faults", "POST", {"expire_tokens": True})
    results = await asyncio.gather(*(sink.apply(command(str(i), 10 + i)) for i in (1, 2, 3)))
    assert all(r.outcome is Outcome.APPLIED for r in results)
    calls = await admin(oauth_erp, "calls")
    assert calls["oauth.token"] == 2  # three concurrent 401s, one shared refresh
    assert calls["records.patch"] == 3 + 3 + 3  # each refused call repeated once
    assert sink.client.token_fetches == 2


async def test_oauth2_token_is_renewed_before_it_expires(oauth_erp: RunningErpEmulator, log: MemoryLog,
                                                         make: MakeSink) -> None:
    now = [0.0]
    client = TargetClient("erp", settings_for(oauth_erp, oauth(oauth_erp)), clock=lambda: now[0])
    sink = await make(client.settings, log, client=client)
    assert (await sink.apply(command("1", 1))).outcome is Outcome.APPLIED
    now[0] = 3600 - 31  # expires_in 3600, renewed 30 s early
    assert (await sink.apply(command("1", 2))).outcome is Outcome.APPLIED
    assert client.token_fetches == 1
    now[0] = 3600 - 29
    assert (await sink.apply(command("1", 3))).outcome is Outcome.APPLIED
    assert client.token_fetches == 2
    assert (await admin(oauth_erp, "calls"))["records.patch"] == 3  # renewed in time: no 401


async def test_refused_client_credentials_stop_the_start_and_leak_no_secret(
    oauth_erp: RunningErpEmulator, log: MemoryLog, make: MakeSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = await make(settings_for(oauth_erp, oauth(oauth_erp, "wrong-secret-123")), log)
    with pytest.raises(AuthenticationFailed) as raised:
        await sink.start()
    result = await sink.apply(command("1", 1))
    assert result.outcome is None and "authentication failed" in (result.detail or "")
    assert "wrong-secret-123" not in str(raised.value) + (result.detail or "") + caplog.text
    assert (await admin(oauth_erp, "calls")).get("records.patch", 0) == 0
    assert log.values(EFFECTS_TOPIC) == []


@pytest.mark.parametrize(("config", "auth"), [
    (ErpEmulatorConfig(auth="bearer"), TargetAuth(kind="bearer", token=SecretStr("erp-token"))),
    (ErpEmulatorConfig(auth="basic"), TargetAuth(kind="basic", username="xstream", password=SecretStr(SECRET))),
])
async def test_static_credentials(config: ErpEmulatorConfig, auth: TargetAuth, log: MemoryLog,
                                  make: MakeSink) -> None:
    async with await start_erp_emulator(config) as emu:
        await seed(emu, "1")
        sink = await make(settings_for(emu, auth), log)
        await sink.start()
        result = await sink.apply(command("1", 1))
        assert result.outcome is Outcome.APPLIED
        assert emu.state.records.get("customers", "1")["version"] == 2


async def test_a_refused_static_credential_is_not_repeated(log: MemoryLog, make: MakeSink,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        await seed(emu, "1")
        sink = await make(settings_for(emu, TargetAuth(kind="bearer", token=SecretStr("stale-token-9"))), log)
        result = await sink.apply(command("1", 1))
        assert result.outcome is None and "authentication failed" in (result.detail or "")
        assert (await admin(emu, "calls"))["records.patch"] == 1
        assert "stale-token-9" not in caplog.text + (result.detail or "")


# --- the boundary's classification ---------------------------------------------------------------------


def raised(status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, idempotent: bool = True,
           now: datetime | None = None) -> Exception:
    try:
        classify("erp", "records.patch", status, headers or {}, body, idempotent=idempotent,
                 now=lambda: now or datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no error raised")


def test_classification() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=42), usegmt=True)
    backpressure = raised(503, headers={"Retry-After": date}, now=now)
    assert isinstance(backpressure, SinkBackpressure) and backpressure.retry_after == pytest.approx(42)
    assert type(raised(503)) is SinkUnavailable
    assert type(raised(429)) is SinkUnavailable
    assert type(raised(408)) is SinkUnavailable
    assert type(raised(502, b"<html>Bad gateway</html>")) is SinkUnavailable
    in_flight = raised(409, b'{"error": {"code": "idempotency_key_in_use", "message": "busy"}}')
    assert isinstance(in_flight, RequestInFlight) and in_flight.retriable and in_flight.retry_after == 1.0
    assert type(raised(409, idempotent=False)) is EditConflict
    assert type(raised(422, b'{"error": {"code": "idempotency_key_reused", "message": "x"}}')) is IdempotencyKeyReused
    validation = raised(422, b'{"error": {"code": "read_only_field", "message": "version"}}')
    assert type(validation) is SinkRejected and "read_only_field: version" in str(validation)
    assert type(raised(404)) is TargetNotFound
    assert type(raised(400)) is SinkRejected and not SinkRejected.retriable
    assert type(raised(401)) is AuthenticationFailed
    not_json = raised(200, b"<html>maintenance</html>")
    assert type(not_json) is SinkUnavailable
    assert classify("erp", "op", 204, {}, b"") is None
