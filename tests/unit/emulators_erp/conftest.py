"""Shared helpers for the ERP emulator tests: a running emulator, a small raw HTTP caller, and one for the
SAP attachment service (CSRF token and session cookie held)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


@dataclass
class Erp:
    http: aiohttp.ClientSession
    emu: RunningErpEmulator
    auth: dict[str, str]

    async def call(self, method: str, path: str, payload: Any = None, *, key: str | None = None,
                   headers: dict[str, str] | None = None, **kw: Any) -> Reply:
        sent = dict(self.auth) | ({"Idempotency-Key": key} if key is not None else {}) | (headers or {})
        if payload is not None:
            kw["data"] = json.dumps(payload)
            sent["Content-Type"] = "application/json"
        async with self.http.request(method, f"{self.emu.url}{path}", headers=sent, **kw) as r:
            raw = await r.read()
            assert r.content_type == "application/json", raw
            return Reply(r.status, json.loads(raw), r.headers)

    async def admin(self, method: str, what: str, payload: Any = None, **kw: Any) -> Any:
        async with self.http.request(method, f"{self.emu.admin_url}/{what}", json=payload, **kw) as r:
            return await r.json()

    async def calls(self) -> dict[str, int]:
        return dict(await self.admin("GET", "calls"))

    async def customer(self, **fields: Any) -> dict[str, Any]:
        reply = await self.call("POST", "/customers", {"name": "Acme", "region": "EMEA"} | fields)
        assert reply.status == 201, reply.body
        return dict(reply.body)


class Hold:
    """Keeps the first call of ``operation`` in flight (its Idempotency-Key claimed, its work not done)
    until :meth:`release`: ``entered`` is set once it is held (the emulator's ``hold_work`` test hook)."""

    def __init__(self, emu: RunningErpEmulator, operation: str) -> None:
        self.entered = asyncio.Event()
        self._released = asyncio.Event()

        async def hold(called: str) -> None:
            if called == operation and not self.entered.is_set():
                self.entered.set()
                await self._released.wait()

        emu.state.hold_work = hold

    async def held(self, timeout_s: float = 5.0) -> None:
        await asyncio.wait_for(self.entered.wait(), timeout_s)

    def release(self) -> None:
        self._released.set()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def emulator() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def erp(http: aiohttp.ClientSession, emulator: RunningErpEmulator) -> Erp:
    return Erp(http, emulator, {})


SAP_SERVICE = "/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
SALESFORCE = "/services/data/v60.0"
PO = ("BUS2012", "4500000001")


@dataclass
class Raw:
    """An answer of any content type: JSON decoded, text otherwise."""

    status: int
    body: Any
    headers: Any


async def read(r: aiohttp.ClientResponse) -> Raw:
    raw = await r.read()
    body: Any = json.loads(raw) if r.content_type == "application/json" and raw else raw.decode("utf-8", "replace")
    return Raw(r.status, body, r.headers)


@dataclass
class Sap:
    """Raw HTTP against the emulated SAP attachment service, holding a CSRF token and its session cookie."""

    http: aiohttp.ClientSession
    emu: RunningErpEmulator
    auth: dict[str, str]
    token: str | None = None
    cookie: str | None = None

    @property
    def service(self) -> str:
        return f"{self.emu.origin}{SAP_SERVICE}"

    async def fetch_token(self) -> Raw:
        async with self.http.get(f"{self.service}/", headers=self.auth | {"x-csrf-token": "Fetch"}) as r:
            reply = await read(r)
        self.token = reply.headers.get("x-csrf-token")
        jar = r.cookies.get("SAP_SESSIONID_XS1_100")
        if jar is not None:
            self.cookie = f"SAP_SESSIONID_XS1_100={jar.value}"
        return reply

    def csrf(self) -> dict[str, str]:
        return ({"x-csrf-token": self.token} if self.token else {}) | ({"Cookie": self.cookie} if self.cookie else {})

    async def call(self, method: str, path: str, *, key: str | None = None, headers: dict[str, str] | None = None,
                   csrf: bool = True, **kw: Any) -> Raw:
        if csrf and method not in ("GET", "HEAD") and self.token is None:
            await self.fetch_token()
        sent = dict(self.auth) | (self.csrf() if csrf else {}) | ({"Idempotency-Key": key} if key else {})
        url = path if path.startswith("http") else f"{self.service}{path}"
        async with self.http.request(method, url, headers=sent | (headers or {}), **kw) as r:
            return await read(r)

    async def upload(self, data: Any, *, name: str = "po-4500000001.pdf", obj: tuple[str, str] = PO,
                     mime: str = "application/pdf", key: str | None = None,
                     headers: dict[str, str] | None = None, **kw: Any) -> Raw:
        sent = {"Slug": quote(name, safe=""), "BusinessObjectTypeName": obj[0], "LinkedSAPObjectKey": obj[1],
                "Content-Type": mime} | (headers or {})
        return await self.call("POST", "/AttachmentContentSet", data=data, key=key, headers=sent, **kw)

    async def originals(self, obj: tuple[str, str] = PO) -> list[dict[str, Any]]:
        reply = await self.call("GET", "/GetAllOriginals", params={"BusinessObjectTypeName": f"'{obj[0]}'",
                                                                   "LinkedSAPObjectKey": f"'{obj[1]}'"})
        assert reply.status == 200, reply.body
        return list(reply.body["d"]["results"])


async def changes(http: aiohttp.ClientSession, emu: RunningErpEmulator, entity: str) -> list[dict[str, Any]]:
    async with http.get(f"{emu.admin_url}/changes", params={"entity": entity}) as r:
        return list((await r.json())["changes"])


@pytest.fixture
async def sap(http: aiohttp.ClientSession, emulator: RunningErpEmulator) -> Sap:
    return Sap(http, emulator, {})
