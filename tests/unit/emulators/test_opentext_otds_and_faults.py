"""The emulated OTDS token endpoint with Bearer auth, and fault injection (errors, hangs, flags)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import (
    Faults,
    FaultSpecError,
    OpenTextEmulatorConfig,
    OpenTextState,
    RunningEmulator,
    parse_fault_flags,
    start_opentext_emulator,
)

from tests.support.wait import until
from tests.unit.emulators.conftest import Api


async def token(http: aiohttp.ClientSession, emu: RunningEmulator, **form: str) -> tuple[int, Any]:
    fields = {"grant_type": "client_credentials", "client_id": "xstream", "client_secret": "xstream-secret"} | form
    async with http.post(f"{emu.otds_url}/otdsws/oauth2/token", data=fields) as r:
        return r.status, await r.json()


async def test_otds_client_credentials_token_works_as_bearer(emulator: RunningEmulator, http) -> None:
    status, body = await token(http, emulator)
    assert status == 200
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600) and body["access_token"]
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    async with http.get(f"{emulator.url}/api/v1/auth", headers=bearer) as r:  # the exchange pyxecm does
        assert r.status == 200 and (await r.json())["data"]["name"] == "Admin"
        ticket = r.headers["OTCSTicket"]
    async with http.get(f"{emulator.url}/api/v2/nodes/2000", headers={"OTCSTicket": ticket}) as r:
        assert r.status == 200
    async with http.post(f"{emulator.url}/api/v2/nodes", headers=bearer,
                         data={"type": "0", "parent_id": "2000", "name": "Via bearer"}) as r:
        assert r.status == 200 and (await r.json())["results"]["data"]["properties"]["create_user_id"] == 1000
    async with http.get(f"{emulator.url}/api/v2/nodes/2000", headers={"Authorization": "Bearer forged"}) as r:
        assert (r.status, await r.json()) == (401, {"error": "Authentication Required"})
    async with http.get(f"{emulator.admin_url}/calls") as r:
        assert (await r.json())["otds.token"] == 1


async def test_otds_errors_use_the_oauth2_shape(emulator: RunningEmulator, http) -> None:
    assert await token(http, emulator, client_secret="wrong") == (
        401, {"error": "invalid_client", "error_description": "Client authentication failed."})
    status, body = await token(http, emulator, grant_type="password")
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body = await token(http, emulator, client_id="")
    assert (status, body["error"]) == (400, "invalid_request")
    basic = base64.b64encode(b"xstream:xstream-secret").decode()  # client authentication by HTTP Basic
    async with http.post(f"{emulator.otds_url}/otdsws/oauth2/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"}) as r:
        assert r.status == 200 and (await r.json())["access_token"]


async def test_expired_or_revoked_tokens_are_401(http) -> None:
    now = [1_800_000_000.0]
    state = OpenTextState(clock=lambda: now[0], otds_clients={"app": "s3cret"}, otds_token_lifetime_s=60)
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(), state)
    try:
        status, body = await token(http, emu, client_id="app", client_secret="s3cret")
        assert (status, body["expires_in"]) == (200, 60)
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        async with http.get(f"{emu.url}/api/v2/nodes/2000", headers=bearer) as r:
            assert r.status == 200
        now[0] += 61
        async with http.get(f"{emu.url}/api/v2/nodes/2000", headers=bearer) as r:
            assert (r.status, await r.json()) == (401, {"error": "Authentication Required"})
        _, body = await token(http, emu, client_id="app", client_secret="s3cret")
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        async with http.post(f"{emu.admin_url}/faults", json={"expire_tokens": True}) as r:
            assert (await r.json())["expired_tokens"] is True
        async with http.get(f"{emu.url}/api/v2/nodes/2000", headers=bearer) as r:
            assert r.status == 401
    finally:
        await emu.stop()


# --- faults -----------------------------------------------------------------------------------


async def test_hang_never_answers_until_the_client_times_out(api: Api, emulator: RunningEmulator) -> None:
    await api.admin("POST", "faults", json={"hang_rate": 1.0, "operations": ["nodes.get"]})
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        async with api.http.get(f"{emulator.url}/api/v2/nodes/2000", headers={"OTCSTicket": api.ticket},
                                timeout=aiohttp.ClientTimeout(total=0.3)):
            pass
    assert time.monotonic() - started < 2
    assert (await api.get("/v2/nodes/2000/nodes")).status == 200  # other operations are not faulted
    faults = await api.admin("GET", "faults")
    assert (faults["hang_rate"], faults["operations"], faults["injected"]) == (1.0, ["nodes.get"], 1)
    await api.admin("POST", "faults", json={})
    assert (await api.get("/v2/nodes/2000")).status == 200


async def test_a_hanging_request_does_not_block_shutdown(http) -> None:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(faults=Faults(hang_rate=1.0)))
    request = asyncio.create_task(http.get(f"{emu.url}/api/v1/ping"))
    await until(lambda: emu.state.injected_faults == 1)  # the request is in the emulator, hanging
    assert not request.done()
    started = time.monotonic()
    await emu.stop()
    assert time.monotonic() - started < 3
    try:
        response = await request
        status: int | None = response.status
        response.release()
    except aiohttp.ClientError:
        status = None  # the connection was closed
    assert status in (None, 503)  # never a normal answer


async def test_initial_faults_come_from_the_config_and_survive_reset(http) -> None:
    faults = parse_fault_flags("error_rate=1,error_kind=503,retry_after_s=2.5,operations=ping")
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(faults=faults))
    try:
        for _ in range(2):
            async with http.get(f"{emu.url}/api/v1/ping") as r:
                assert (r.status, r.headers["Retry-After"]) == (503, "3")
            async with http.get(f"{emu.url}/api/v1/serverinfo") as r:
                assert r.status == 200
            async with http.post(f"{emu.admin_url}/reset") as r:
                assert r.status == 200
    finally:
        await emu.stop()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("", Faults()),
        ("latency_ms=5-50, error_rate=0.1", Faults(latency_ms=(5.0, 50.0), error_rate=0.1)),
        ("latency_ms=20,hang_rate=0.01,error_kind=html500",
         Faults(latency_ms=(20.0, 20.0), hang_rate=0.01, error_kind="html500")),
        ("operations=nodes.create|versions.add", Faults(operations=("nodes.create", "versions.add"))),
    ],
)
def test_parse_fault_flags(flags: str, expected: Faults) -> None:
    assert parse_fault_flags(flags) == expected


@pytest.mark.parametrize("flags", ["error_rate", "error_rate=2", "colour=red", "latency_ms=a-b", "error_kind=418",
                                   "expire_tickets=true"])
def test_bad_fault_flags_are_refused(flags: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault_flags(flags)


@pytest.mark.parametrize("spec", [{"hang_rate": -1}, {"operations": "nodes.get"}, {"operations": [""]},
                                  {"expire_tokens": "yes"}])
async def test_invalid_new_fault_specs_are_400(api: Api, spec: dict[str, Any]) -> None:
    async with api.http.post(f"{api.emu.admin_url}/faults", json=spec) as r:
        assert r.status == 400 and "error" in await r.json()
