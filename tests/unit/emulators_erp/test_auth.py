"""Authentication variants of the ERP emulator: bearer, basic, OAuth2 client credentials, and their 401s."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, ErpState, RunningErpEmulator, start_erp_emulator

from tests.unit.emulators_erp.conftest import Erp


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def started() -> AsyncIterator[list[RunningErpEmulator]]:
    running: list[RunningErpEmulator] = []
    yield running
    for emu in running:
        await emu.stop()


async def start(started: list[RunningErpEmulator], config: ErpEmulatorConfig,
                state: ErpState | None = None) -> RunningErpEmulator:
    emu = await start_erp_emulator(config, state)
    started.append(emu)
    return emu


async def status(http: aiohttp.ClientSession, emu: RunningErpEmulator, headers: dict[str, str]) -> int:
    async with http.get(f"{emu.url}/customers", headers=headers) as r:
        await r.read()
        if r.status == 401:
            assert r.headers["WWW-Authenticate"]
        return r.status


async def token(http: aiohttp.ClientSession, emu: RunningErpEmulator, **form: str) -> tuple[int, dict[str, object]]:
    async with http.post(emu.token_url, data=form) as r:
        return r.status, await r.json()


async def test_bearer(http: aiohttp.ClientSession, started: list[RunningErpEmulator]) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="bearer"))
    assert await status(http, emu, {"Authorization": "Bearer erp-token"}) == 200
    assert await status(http, emu, {"Authorization": "Bearer wrong"}) == 401
    assert await status(http, emu, {}) == 401


async def test_basic(http: aiohttp.ClientSession, started: list[RunningErpEmulator]) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="basic"))
    assert await status(http, emu, basic("xstream", "erp-secret")) == 200
    assert await status(http, emu, basic("xstream", "nope")) == 401
    assert await status(http, emu, {"Authorization": "Basic !!!"}) == 401
    assert await status(http, emu, {"Authorization": "Bearer erp-token"}) == 401


async def test_oauth2_client_credentials(http: aiohttp.ClientSession, started: list[RunningErpEmulator]) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="oauth2", token_lifetime_s=600))
    code, body = await token(http, emu, grant_type="client_credentials", client_id="xstream",
                             client_secret="erp-secret", scope="records")
    assert code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and body["scope"] == "records"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert await status(http, emu, bearer) == 200
    assert await status(http, emu, {"Authorization": "Bearer erp-token"}) == 401
    await Erp(http, emu, {}).admin("POST", "faults", {"expire_tokens": True})
    assert await status(http, emu, bearer) == 401
    calls = await Erp(http, emu, {}).calls()
    assert calls["oauth.token"] == 1 and calls["records.list"] == 3


async def test_oauth2_client_credentials_in_a_basic_header(http: aiohttp.ClientSession,
                                                           started: list[RunningErpEmulator]) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="oauth2"))
    async with http.post(emu.token_url, data={"grant_type": "client_credentials"},
                         headers=basic("xstream", "erp-secret")) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("form", "code", "error"), [
    ({"grant_type": "client_credentials", "client_id": "xstream", "client_secret": "bad"}, 401, "invalid_client"),
    ({"grant_type": "password", "client_id": "xstream", "client_secret": "erp-secret"}, 400,
     "unsupported_grant_type"),
    ({"client_id": "xstream", "client_secret": "erp-secret"}, 400, "invalid_request"),
    ({"grant_type": "client_credentials"}, 400, "invalid_request"),
])
async def test_oauth2_token_errors(http: aiohttp.ClientSession, started: list[RunningErpEmulator],
                                   form: dict[str, str], code: int, error: str) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="oauth2"))
    got, body = await token(http, emu, **form)
    assert (got, body["error"]) == (code, error)


async def test_oauth2_tokens_expire(http: aiohttp.ClientSession, started: list[RunningErpEmulator]) -> None:
    now = [0.0]
    config = ErpEmulatorConfig(auth="oauth2", token_lifetime_s=60)
    emu = await start(started, config, ErpState(config, clock=lambda: now[0]))
    _, body = await token(http, emu, grant_type="client_credentials", client_id="xstream", client_secret="erp-secret")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    now[0] = 59.9
    assert await status(http, emu, bearer) == 200
    now[0] = 60
    assert await status(http, emu, bearer) == 401


async def test_admin_needs_no_credentials(http: aiohttp.ClientSession, started: list[RunningErpEmulator]) -> None:
    emu = await start(started, ErpEmulatorConfig(auth="bearer"))
    async with http.get(f"{emu.admin_url}/state") as r:
        assert r.status == 200
