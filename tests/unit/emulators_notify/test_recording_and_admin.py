"""What the emulator records (every accepted POST, duplicates included), its admin API and its settings."""

from __future__ import annotations

import aiohttp
import pytest
from xstream_emulators.notify import DEFAULT_CHANNELS, NotifyEmulatorConfig, start_notify_emulator

from tests.unit.emulators_notify.conftest import Notify, card

SENT = {"Idempotency-Key": '"notify-1"', "X-Xstream-Origin": "xstream", "X-Xstream-Causation": "opentext/doc/7:v2"}


async def test_duplicates_are_recorded_twice_even_with_the_same_idempotency_key(notify: Notify) -> None:
    for _ in range(2):
        assert (await notify.slack("legal", {"text": "done"}, headers=SENT)).status == 200
        reply = await notify.teams("legal", card("done"), headers=SENT)
        assert reply.status == 202 and "Idempotent-Replayed" not in reply.headers
    messages = await notify.messages()
    assert [(m["seq"], m["format"]) for m in messages] == [(1, "slack"), (2, "teams"), (3, "slack"), (4, "teams")]
    assert all(m["headers"] == SENT for m in messages)


async def test_only_the_xstream_headers_are_kept(notify: Notify) -> None:
    await notify.slack("legal", {"text": "t"}, headers={"X-Xstream-Origin": "xstream", "User-Agent": "ua"})
    assert (await notify.messages())[0]["headers"] == {"X-Xstream-Origin": "xstream"}


async def test_messages_filter_by_channel_and_format(notify: Notify) -> None:
    await notify.slack("legal", {"text": "a"})
    await notify.teams("legal", card("b"))
    await notify.slack("finance", {"text": "c"})
    assert [m["text"] for m in await notify.messages(channel="legal")] == ["a", "b"]
    assert [m["text"] for m in await notify.messages(format="slack")] == ["a", "c"]
    assert [m["text"] for m in await notify.messages(channel="legal", format="teams")] == ["b"]
    assert await notify.messages(channel="procurement") == []
    async with notify.http.get(f"{notify.emu.admin_url}/messages", params={"channel": "marketing"}) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (404, "unknown_channel")
    async with notify.http.get(f"{notify.emu.admin_url}/messages", params={"format": "discord"}) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (400, "invalid_parameter")
    assert [m.seq for m in notify.emu.state.find("finance")] == [3]


async def test_calls_are_counted_by_operation_and_admin_calls_are_not(notify: Notify) -> None:
    await notify.slack("legal", {"text": "a"})
    await notify.slack("legal", {})  # refused: counted, nothing recorded
    await notify.teams("legal", card("b"))
    await notify.messages()
    assert await notify.admin("GET", "calls") == {"slack.post": 2, "teams.post": 1, "state_changing": 2}


async def test_reset_forgets_messages_and_calls(notify: Notify) -> None:
    await notify.slack("legal", {"text": "a"})
    assert await notify.admin("POST", "reset") == {"reset": True}
    assert await notify.messages() == [] and await notify.admin("GET", "calls") == {"state_changing": 0}
    await notify.slack("legal", {"text": "b"})
    assert (await notify.messages())[0]["seq"] == 1


async def test_admin_state_lists_the_channels(notify: Notify) -> None:
    await notify.teams("procurement", card("p"))
    state = await notify.admin("GET", "state")
    assert sorted(state["channels"]) == sorted(DEFAULT_CHANNELS)
    assert state["channels"]["procurement"] == {"slack": "/slack/procurement/procurement-token",
                                                "teams": "/teams/procurement/procurement-token", "messages": 1}
    assert state["messages"] == 1


async def test_channel_urls(notify: Notify) -> None:
    origin = notify.emu.origin
    assert notify.emu.channel_url("legal", "slack") == f"{origin}/slack/legal/legal-token"
    assert notify.emu.channel_url("finance", "teams") == f"{origin}/teams/finance/finance-token"
    assert notify.emu.admin_url == f"{origin}/admin"
    with pytest.raises(ValueError):
        notify.emu.channel_url("marketing", "slack")
    with pytest.raises(ValueError):
        notify.emu.channel_url("legal", "discord")  # type: ignore[arg-type]


async def test_own_channels(http: aiohttp.ClientSession) -> None:
    config = NotifyEmulatorConfig(channels={"ops": "s3cr3t"})
    async with await start_notify_emulator(config) as emu:
        notify = Notify(http, emu)
        assert emu.channel_url("ops", "slack").endswith("/slack/ops/s3cr3t")
        assert (await notify.slack("ops", {"text": "t"})).status == 200
        reply = await notify.post(f"{emu.origin}/slack/legal/legal-token", {"text": "t"})
        assert (reply.status, reply.text) == (404, "channel_not_found")


def test_config_checks() -> None:
    for channels in ({"": "t"}, {"a/b": "t"}, {"a": ""}, {"a": "t/u"}, {"a": " t"}):
        with pytest.raises(ValueError):
            NotifyEmulatorConfig(channels=channels)
    with pytest.raises(ValueError):
        NotifyEmulatorConfig(max_body_bytes=0)
    config = NotifyEmulatorConfig()
    config.channels["x"] = "y"
    assert "x" not in NotifyEmulatorConfig().channels  # the default is not shared
