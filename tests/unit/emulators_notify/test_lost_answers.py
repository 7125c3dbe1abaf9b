"""Lost answers of the notification emulator: the message was recorded, then its answer never came."""

from __future__ import annotations

import asyncio
import logging
import re

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


async def lost_answers(notify: Notify) -> int:
    return int((await notify.admin("GET", "faults"))["lost_answers"])


async def test_a_lost_slack_answer_still_records_the_message_once(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"lost_answer_rate": 1.0, "operations": ["slack.post"]})
    with pytest.raises(aiohttp.ClientConnectionError):
        await notify.slack("legal", {"text": "Contract approved"})
    messages = await notify.messages()
    assert [(m["channel"], m["format"], m["text"]) for m in messages] == [("legal", "slack", "Contract approved")]
    assert await lost_answers(notify) == 1
    state = await notify.admin("GET", "state")
    assert (state["messages"], state["lost_answers"], state["injected_faults"]) == (1, 1, 0)


async def test_a_sender_that_retries_a_lost_answer_posts_twice(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"lost_answer_rate": 1.0})
    with pytest.raises(aiohttp.ClientConnectionError):
        await notify.teams("legal", card("Approved"), headers={"Idempotency-Key": "k-1"})
    await notify.admin("POST", "faults", {})
    assert (await notify.teams("legal", card("Approved"), headers={"Idempotency-Key": "k-1"})).status == 202
    assert [m["text"] for m in await notify.messages()] == ["Approved", "Approved"]  # no de-duplication


async def test_a_hang_after_recording_never_answers(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"lost_answer_rate": 1.0, "lost_answer_kind": "hang"})
    with pytest.raises(asyncio.TimeoutError):
        await notify.teams("finance", card("Invoice"), timeout=aiohttp.ClientTimeout(total=0.3))
    assert [m["text"] for m in await notify.messages(channel="finance")] == ["Invoice"]
    assert await lost_answers(notify) == 1


async def test_refused_and_read_calls_are_answered_and_the_filter_holds(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"lost_answer_rate": 1.0, "operations": ["teams.post"]})
    assert (await notify.slack("legal", {"text": "answered"})).status == 200  # slack.post is not named
    wrong_token = await notify.post(f"{notify.emu.origin}/teams/legal/wrong", card("x"))
    assert wrong_token.status == 401  # refused: nothing recorded, so nothing to lose
    assert (await notify.teams("legal", {"type": "message"})).status == 400
    async with notify.http.get(notify.emu.channel_url("legal", "teams")) as r:
        assert r.status == 405  # a read is never lost
    assert await lost_answers(notify) == 0
    assert len(await notify.messages()) == 1


async def test_a_lost_answer_does_not_disturb_other_connections(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = asyncio.all_tasks()  # the loop is shared by the session
    config = NotifyEmulatorConfig(faults=parse_fault_flags("lost_answer_rate=1,operations=slack.post"))
    emu = await start_notify_emulator(config)
    async with aiohttp.ClientSession() as http:
        notify = Notify(http, emu)
        posts = [notify.slack("legal", {"text": f"s{i}"}) for i in range(4)]
        posts += [notify.teams("legal", card(f"t{i}")) for i in range(4)]
        results = await asyncio.gather(*posts, return_exceptions=True)
        assert all(isinstance(r, aiohttp.ClientConnectionError) for r in results[:4])
        assert [getattr(r, "status", None) for r in results[4:]] == [202] * 4
        assert len(await notify.messages()) == 8 and await lost_answers(notify) == 4
    await emu.stop()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert asyncio.all_tasks() - before == set()  # every connection handler ended


async def test_lost_answers_are_reset(notify: Notify) -> None:
    await notify.admin("POST", "faults", {"lost_answer_rate": 1.0})
    with pytest.raises(aiohttp.ClientConnectionError):
        await notify.slack("legal", {"text": "t"})
    await notify.admin("POST", "reset")
    faults = await notify.admin("GET", "faults")
    assert (faults["lost_answers"], faults["lost_answer_rate"]) == (0, 0.0)


def test_lost_answer_flags() -> None:
    assert parse_fault_flags("lost_answer_rate=0.1,lost_answer_kind=hang") == Faults(
        lost_answer_rate=0.1, lost_answer_kind="hang")
    for bad, message in [("lost_answer_rate=-1", "lost_answer_rate must be a number between 0 and 1"),
                         ("lost_answer_kind=never", "lost_answer_kind must be one of ['reset', 'hang']"),
                         ("lost_answers=1", "unknown fault setting 'lost_answers'")]:
        with pytest.raises(FaultSpecError, match=re.escape(message)):
            parse_fault_flags(bad)


async def test_bad_lost_answer_specs_are_400(notify: Notify) -> None:
    for spec in ({"lost_answer_rate": 1.1}, {"lost_answer_kind": "reset-later"}):
        async with notify.http.post(f"{notify.emu.admin_url}/faults", json=spec) as r:
            body = await r.json()
            assert (r.status, body["error"]["code"]) == (400, "invalid_faults") and "lost_answer" in body[
                "error"]["message"]
