"""Fault injection of the notification emulator: rate limits, outages and errors, each in its service's words."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from xstream_emulators.notify import (
    Faults,
    FaultSpecError,
    NotifyEmulatorConfig,
    parse_fault_flags,
    start_notify_emulator,
)

from tests.unit.emulators_notify.conftest import Notify, card


@pytest.mark.parametrize(("kind", "status", "slack_code", "teams_code", "retry_after"), [
    ("429", 429, "rate_limited", "TooManyRequests", "2"),
    ("503", 503, "service_unavailable", "ServiceUnavailable", "2"),
    ("500", 500, "internal_error", "InternalServerError", None),
])
async def test_injected_errors_record_nothing(notify: Notify, kind: str, status: int, slack_code: str,
                                              teams_code: str, retry_after: str | None) -> None:
    await notify.admin("POST", "faults", {"error_rate": 1.0, "error_kind": kind, "retry_after_s": 1.5})
    slack = await notify.slack("legal", {"text": "t"})
    assert (slack.status, slack.text) == (status, slack_code)
    teams = await notify.teams("legal", card("t"))
    assert (teams.status, teams.json()["error"]["code"]) == (status, teams_code)
    assert slack.headers.get("Retry-After") == teams.headers.get("Retry-After") == retry_after
    assert await notify.messages() == []
    assert (await notify.admin("GET", "faults"))["injected"] == 2
    await notify.admin("POST", "faults", {})
    assert (await notify.slack("legal", {"text": "t"})).status == 200


async def test_no_retry_after_unless_configured(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "429"})
    reply = await notify.slack("legal", {"text": "t"})
    assert reply.status == 429 and "Retry-After" not in reply.headers


async def test_faults_before_validation_and_only_for_the_named_operations(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "503", "operations": ["teams.post"]})
    reply = await notify.post(f"{notify.emu.origin}/teams/marketing/x", {})
    assert reply.status == 503  # faulted before the channel or the body is looked at
    assert (await notify.slack("legal", {"text": "t"})).status == 200
    assert len(await notify.messages()) == 1


async def test_a_hang_never_answers(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"hang_rate": 1.0})
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await notify.slack("legal", {"text": "t"}, timeout=aiohttp.ClientTimeout(total=0.3))
    assert time.monotonic() - started >= 0.3
    await notify.admin("POST", "faults", {})
    assert (await notify.slack("legal", {"text": "t"})).status == 200
    assert len(await notify.messages()) == 1


async def test_latency(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"latency_ms": [150, 150]})
    started = time.monotonic()
    assert (await notify.teams("legal", card("t"))).status == 202
    assert time.monotonic() - started >= 0.14


async def test_bad_fault_specs_are_400(notify: Notify) -> None:
    for spec in ({"error_rate": 2}, {"error_kind": "404"}, {"latency_ms": [5, 1]}, {"expire_tokens": True}):
        async with notify.http.post(f"{notify.emu.admin_url}/faults", json=spec) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (400, "invalid_faults"), spec


def test_parse_fault_flags() -> None:
    faults = parse_fault_flags("error_rate=0.2,error_kind=429,retry_after_s=3,operations=slack.post")
    assert faults == Faults(error_rate=0.2, error_kind="429", retry_after_s=3.0, operations=("slack.post",))
    assert parse_fault_flags("") == Faults()
    with pytest.raises(FaultSpecError):
        parse_fault_flags("error_kind=html500")


async def test_initial_faults_come_back_on_reset(http: aiohttp.ClientSession) -> None:
    config = NotifyEmulatorConfig(faults=parse_fault_flags("error_rate=1,error_kind=429"))
    async with await start_notify_emulator(config) as emu:
        notify = Notify(http, emu)
        assert (await notify.slack("legal", {"text": "t"})).status == 429
        await notify.admin("POST", "faults", {})
        await notify.admin("POST", "reset")
        assert (await notify.admin("GET", "faults"))["error_kind"] == "429"
