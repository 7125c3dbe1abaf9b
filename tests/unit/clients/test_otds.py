"""OTDS OAuth2 client credentials against the emulator's /otdsws/oauth2/token: bearer instead of a ticket."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr
from xstream_emulators.opentext import OpenTextEmulatorConfig, OpenTextState, start_opentext_emulator

from tests.unit.clients.support import BytesSource, admin, otds_settings_for
from xstream.clients.opentext import OpenTextClient
from xstream.errors import AuthenticationFailed


async def test_calls_carry_a_bearer_token_and_never_log_in(emulator) -> None:
    async with OpenTextClient(otds_settings_for(emulator)) as client:
        await client.login()
        assert (await client.get_node(2000)).name == "Enterprise"
        folder = await client.ensure_folder_path(2000, ["OTDS"])
        source = BytesSource(b"via bearer")
        result = await client.upsert_document(folder, "b.txt", source.body("b.txt"), size=source.size, sha256=source.sha256)
        assert (await client.download_to(result.node_id, "/dev/null")).sha256 == source.sha256
    calls = await admin(emulator, "GET", "calls")
    assert calls["otds.token"] == 1 and "auth.login" not in calls


async def test_invalidated_tokens_cause_one_new_token_for_all_callers(emulator) -> None:
    async with OpenTextClient(otds_settings_for(emulator)) as client:
        await client.get_node(2000)
        await admin(emulator, "POST", "faults", json={"expire_tokens": True})
        nodes = await asyncio.gather(*(client.get_node(2000) for _ in range(10)))
    assert {n.id for n in nodes} == {2000}
    assert (await admin(emulator, "GET", "calls"))["otds.token"] == 2


async def test_a_token_that_expires_is_renewed() -> None:
    now = [time.time()]  # one clock for OTDS and the client, moved by the test: nothing waits
    config = OpenTextEmulatorConfig(otds_token_lifetime_s=1)
    emu = await start_opentext_emulator(config, OpenTextState.from_config(config, clock=lambda: now[0]))
    try:
        async with OpenTextClient(otds_settings_for(emu), clock=lambda: now[0]) as client:
            await client.get_node(2000)
            now[0] += 0.95  # past 0.9 s (a tenth of the lifetime before expiry), before the expiry itself
            await client.get_node(2000)
        assert emu.state.calls["otds.token"] == 2
        assert emu.state.calls["nodes.get"] == 2  # renewed before the call, not after a 401
    finally:
        await emu.stop()


async def test_a_wrong_client_secret_is_authentication_failed_without_retry(emulator) -> None:
    settings = otds_settings_for(emulator).model_copy(update={"otds_client_secret": SecretStr("wrong")})
    async with OpenTextClient(settings) as client:
        with pytest.raises(AuthenticationFailed) as err:
            await client.get_node(2000)
    assert err.value.status == 401 and "wrong" not in str(err.value)
    assert (await admin(emulator, "GET", "calls"))["otds.token"] == 1
