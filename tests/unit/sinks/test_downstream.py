"""The downstream HTTP sink against the ERP emulator: results per command, Idempotency-Key replays,
error classification at the boundary, authentication variants, order per record under concurrency."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from xstream.emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator
from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    EditConflict,
    SinkBackpressure,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, UpdateRecord
from xstream.model.status import DownstreamRecord, Outcome
from xstream.settings import TargetAuth, TargetSettings
from xstream.sinks.downstream import DownstreamSink
from xstream.sinks.http import IdempotencyKeyReused, RequestInFlight, TargetClient, classify

SECRET = "erp-secret"


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


@pytest.fixture
async def emulator() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        await seed(emu, "1", "2", "3")
        yield emu


@pytest.fixture
async def sink(emulator: RunningErpEmulator) -> AsyncIterator[DownstreamSink]:
    sink = DownstreamSink("erp", settings_for(emulator, request_timeout_s=2.0))
    await sink.start()
    yield sink
    await sink.close()


async def test_applied_with_the_downstream_record_and_who_changed_it(sink: DownstreamSink,
                                                                     emulator: RunningErpEmulator) -> None:
    (result,) = await sink.write([command("1", 7, {"links": {"workspace_url": "https://ecm/app/nodes/7"}})])
    assert result.outcome is Outcome.APPLIED
    assert result.downstream == DownstreamRecord(target="erp", entity="customers", record_id="1",
                                                 url=f"{emulator.url}/customers/1")
    record = emulator.state.records.get("customers", "1")
    assert record["links"] == {"workspace_url": "https://ecm/app/nodes/7"}
    assert record["last_changed_by"] == "xstream"
    assert record["last_causation"] == "opentext/workspaces/evt:7"
    (change,) = emulator.state.changes.since(0, "customers")[-1:]
    assert change.value["op"] == "u" and change.value["after"]["last_changed_by"] == "xstream"


async def test_a_replayed_command_is_already_applied_and_changes_nothing(sink: DownstreamSink,
                                                                         emulator: RunningErpEmulator) -> None:
    (first,) = await sink.write([command("1", 1)])
    calls = await admin(emulator, "calls")
    (again,) = await sink.write([command("1", 1)])
    assert (first.outcome, again.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert again.downstream == first.downstream
    after = await admin(emulator, "calls")
    assert after["state_changing"] == calls["state_changing"]
    assert after["records.patch"] == calls["records.patch"] + 1


@pytest.mark.parametrize(("cmd", "error"), [
    (command("404", 1), "TargetNotFound"),
    (command("1", 2, {"version": 9}), "SinkRejected"),
    (command("1", 3, entity="planets"), "TargetNotFound"),
])
async def test_permanent_errors_are_rejected(sink: DownstreamSink, cmd: UpdateRecord, error: str) -> None:
    (result,) = await sink.write([cmd])
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.REJECTED_BY_TARGET
    assert (result.detail or "").startswith(error)


async def test_a_key_reused_with_other_fields_is_rejected(sink: DownstreamSink) -> None:
    await sink.write([command("1", 1, {"owner": "a"}, key="same-key-000000000")])
    (result,) = await sink.write([command("1", 1, {"owner": "b"}, key="same-key-000000000")])
    assert result.outcome is Outcome.REJECTED
    assert (result.detail or "").startswith("IdempotencyKeyReused")


@pytest.mark.parametrize(("faults", "retry_after"), [
    ({"error_rate": 1.0, "error_kind": "503", "retry_after_s": 3}, 3.0),
    ({"error_rate": 1.0, "error_kind": "429", "retry_after_s": 1}, 1.0),
    ({"error_rate": 1.0, "error_kind": "500"}, None),
    ({"error_rate": 1.0, "error_kind": "503"}, None),
])
async def test_transient_errors_leave_the_command_unfinished(sink: DownstreamSink, emulator: RunningErpEmulator,
                                                             faults: dict[str, Any], retry_after: float | None) -> None:
    await admin(emulator, "faults", "POST", faults)
    (result,) = await sink.write([command("1", 1)])
    assert result.outcome is None and not result.finished
    assert result.retry_after == retry_after
    await admin(emulator, "faults", "POST", {})
    (result,) = await sink.write([command("1", 1)])
    assert result.outcome is Outcome.APPLIED  # the faulted call did nothing, so the retry applies it


async def test_a_hanging_target_times_out_as_transient(emulator: RunningErpEmulator) -> None:
    sink = DownstreamSink("erp", settings_for(emulator, request_timeout_s=0.3))
    await admin(emulator, "faults", "POST", {"hang_rate": 1.0})
    started = time.monotonic()
    try:
        (result,) = await sink.write([command("1", 1)])
    finally:
        await sink.close()
    assert result.outcome is None and "timed out" in (result.detail or "")
    assert time.monotonic() - started < 2


async def test_an_unreachable_target_is_transient(emulator: RunningErpEmulator) -> None:
    sink = DownstreamSink("erp", settings_for(emulator))
    await emulator.stop()
    try:
        (result,) = await sink.write([command("1", 1)])
    finally:
        await sink.close()
    assert result.outcome is None


async def test_a_key_still_in_flight_is_transient_and_applied_once(emulator: RunningErpEmulator) -> None:
    first, second = (DownstreamSink("erp", settings_for(emulator)) for _ in range(2))
    await admin(emulator, "faults", "POST", {"latency_ms": [300, 300], "operations": ["records.patch"]})
    try:
        running = asyncio.create_task(first.write([command("1", 1)]))
        await asyncio.sleep(0.1)
        (in_flight,) = await second.write([command("1", 1)])
        (applied,) = await running
        (replayed,) = await second.write([command("1", 1)])
    finally:
        await first.close()
        await second.close()
    assert in_flight.outcome is None and in_flight.retry_after == 1.0
    assert (applied.outcome, replayed.outcome) == (Outcome.APPLIED, Outcome.ALREADY_APPLIED)
    assert emulator.state.records.get("customers", "1")["version"] == 2


async def test_per_record_order_with_bounded_concurrency(emulator: RunningErpEmulator) -> None:
    await seed(emulator, *(str(i) for i in range(10, 18)))
    sink = DownstreamSink("erp", settings_for(emulator, concurrency=4))
    await admin(emulator, "faults", "POST", {"latency_ms": [100, 100]})
    batch = [command(str(i), n, {"seq": n}) for n in range(3) for i in range(10, 18)]
    started = time.monotonic()
    try:
        results = await sink.write(batch)
    finally:
        await sink.close()
    elapsed = time.monotonic() - started
    assert all(r.outcome is Outcome.APPLIED for r in results)
    # 24 calls of 100 ms, 4 at a time: about 600 ms; one at a time would be 2.4 s, unbounded 300 ms
    assert 0.55 <= elapsed < 2.0
    for i in range(10, 18):
        record = emulator.state.records.get("customers", str(i))
        assert record["seq"] == 2 and record["version"] == 4
    seqs = [c.value["after"]["seq"] for c in emulator.state.changes.since(0, "customers") if c.key == {"id": "10"}
            and c.value["op"] == "u"]
    assert seqs == [0, 1, 2]


async def test_after_a_transient_failure_later_commands_of_the_object_stay_unfinished(
    sink: DownstreamSink, emulator: RunningErpEmulator
) -> None:
    await admin(emulator, "faults", "POST", {"error_rate": 1.0, "error_kind": "503", "retry_after_s": 2})
    results = await sink.write([command("1", 1), command("2", 2), command("1", 3), command("1", 4)])
    assert [r.outcome for r in results] == [None] * 4
    assert [r.retry_after for r in results] == [2.0, 2.0, None, None]
    assert "earlier command" in (results[2].detail or "")
    assert (await admin(emulator, "calls"))["records.patch"] == 2


async def test_a_command_for_another_target_is_invalid(sink: DownstreamSink) -> None:
    (result,) = await sink.write([command("1", 1, target="crm")])
    assert result.outcome is Outcome.REJECTED and result.reason is DeadLetterReason.INVALID_COMMAND


# --- authentication -----------------------------------------------------------------------------------


@pytest.fixture
async def oauth_erp() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="oauth2")) as emu:
        await seed(emu, "1", "2", "3")
        yield emu


def oauth(emu: RunningErpEmulator, secret: str = SECRET) -> TargetAuth:
    return TargetAuth(kind="oauth2", token_url=emu.token_url, client_id="xstream", client_secret=SecretStr(secret))


async def test_oauth2_token_is_fetched_once_and_refreshed_once_on_401(oauth_erp: RunningErpEmulator) -> None:
    sink = DownstreamSink("erp", settings_for(oauth_erp, oauth(oauth_erp)))
    try:
        await sink.start()
        results = await sink.write([command(str(i), i) for i in (1, 2, 3)])
        assert all(r.outcome is Outcome.APPLIED for r in results)
        assert (await admin(oauth_erp, "calls"))["oauth.token"] == 1
        await admin(oauth_erp, "faults", "POST", {"expire_tokens": True})
        results = await sink.write([command(str(i), 10 + i) for i in (1, 2, 3)])
        assert all(r.outcome is Outcome.APPLIED for r in results)
    finally:
        await sink.close()
    calls = await admin(oauth_erp, "calls")
    assert calls["oauth.token"] == 2  # three concurrent 401s, one shared refresh
    assert calls["records.patch"] == 3 + 3 + 3  # each refused call repeated once
    assert sink.client.token_fetches == 2


async def test_oauth2_token_is_renewed_before_it_expires(oauth_erp: RunningErpEmulator) -> None:
    now = [0.0]
    client = TargetClient("erp", settings_for(oauth_erp, oauth(oauth_erp)), clock=lambda: now[0])
    sink = DownstreamSink("erp", client.settings, client)
    try:
        await sink.write([command("1", 1)])
        now[0] = 3600 - 31  # expires_in 3600, renewed 30 s early
        await sink.write([command("1", 2)])
        assert client.token_fetches == 1
        now[0] = 3600 - 29
        await sink.write([command("1", 3)])
        assert client.token_fetches == 2
    finally:
        await sink.close()
    assert (await admin(oauth_erp, "calls"))["records.patch"] == 3  # renewed in time: no 401


async def test_refused_client_credentials_stop_the_start_and_leak_no_secret(
    oauth_erp: RunningErpEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sink = DownstreamSink("erp", settings_for(oauth_erp, oauth(oauth_erp, "wrong-secret-123")))
    try:
        with pytest.raises(AuthenticationFailed) as raised:
            await sink.start()
        (result,) = await sink.write([command("1", 1)])
    finally:
        await sink.close()
    assert result.outcome is None and "authentication failed" in (result.detail or "")
    assert "wrong-secret-123" not in str(raised.value) + (result.detail or "") + caplog.text
    assert (await admin(oauth_erp, "calls")).get("records.patch", 0) == 0


@pytest.mark.parametrize(("config", "auth"), [
    (ErpEmulatorConfig(auth="bearer"), TargetAuth(kind="bearer", token=SecretStr("erp-token"))),
    (ErpEmulatorConfig(auth="basic"), TargetAuth(kind="basic", username="xstream", password=SecretStr(SECRET))),
])
async def test_static_credentials(config: ErpEmulatorConfig, auth: TargetAuth) -> None:
    async with await start_erp_emulator(config) as emu:
        await seed(emu, "1")
        sink = DownstreamSink("erp", settings_for(emu, auth))
        try:
            await sink.start()
            (result,) = await sink.write([command("1", 1)])
            assert result.outcome is Outcome.APPLIED
        finally:
            await sink.close()


async def test_a_refused_static_credential_is_not_repeated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        await seed(emu, "1")
        sink = DownstreamSink("erp", settings_for(emu, TargetAuth(kind="bearer", token=SecretStr("stale-token-9"))))
        try:
            (result,) = await sink.write([command("1", 1)])
        finally:
            await sink.close()
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
