"""Shared helpers for the OpenText emulator tests: a running emulator, an HTTP session, a logged-in
``Api`` that sends calls the way Content Server clients do (forms, ``body`` JSON, multipart)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

CUSTOMER_TYPE, CUSTOMER_TEMPLATE, CUSTOMER_CATEGORY, CUSTOMERS_FOLDER = 1, 2011, 2006, 2001
SUPPLIER_TEMPLATE = 2012
DOCUMENT_CATEGORY = 2015
CONTRACT_APPROVAL, INVOICE_APPROVAL = 2017, 2018
ENTERPRISE = 2000


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any
    raw: bytes


@dataclass
class Api:
    """A logged-in caller of one emulator."""

    http: aiohttp.ClientSession
    emu: RunningEmulator
    ticket: str

    async def call(self, method: str, path: str, *, ticket: str | None = None, **kw: Any) -> Reply:
        headers = {"OTCSTicket": ticket or self.ticket} | kw.pop("headers", {})
        async with self.http.request(method, f"{self.emu.url}/api{path}", headers=headers, **kw) as r:
            raw = await r.read()
            body = json.loads(raw) if raw and r.content_type == "application/json" else raw
            return Reply(r.status, body, r.headers, raw)

    async def get(self, path: str, **params: Any) -> Reply:
        return await self.call("GET", path, params=params)

    async def body(self, method: str, path: str, payload: dict[str, Any]) -> Reply:
        """The documented encoding: a form with one ``body`` field holding JSON."""
        return await self.call(method, path, data={"body": json.dumps(payload)})

    async def folder(self, name: str, parent_id: int = ENTERPRISE) -> int:
        reply = await self.body("POST", "/v2/nodes", {"type": 0, "parent_id": parent_id, "name": name})
        assert reply.status == 200, reply.body
        return int(reply.body["results"]["data"]["properties"]["id"])

    async def upload(self, parent_id: int, name: str, data: bytes, *, content_type: str = "application/pdf",
                     filename: str | None = None, **extra: Any) -> Reply:
        form = aiohttp.FormData(quote_fields=False)  # file names as browsers and requests send them
        form.add_field("body", json.dumps({"type": 144, "parent_id": parent_id, "name": name} | extra))
        form.add_field("file", data, filename=filename or name, content_type=content_type)
        return await self.call("POST", "/v2/nodes", data=form)

    async def document(self, parent_id: int, name: str, data: bytes = b"%PDF-1.4 test", **extra: Any) -> int:
        reply = await self.upload(parent_id, name, data, **extra)
        assert reply.status == 200, reply.body
        return int(reply.body["results"]["data"]["properties"]["id"])

    async def workspace(self, name: str = "ACME", bo_id: str = "1001", **extra: Any) -> int:
        payload = {"template_id": CUSTOMER_TEMPLATE, "name": name, "ext_system_id": "SAP", "bo_type": "KNA1",
                   "bo_id": bo_id} | extra
        reply = await self.body("POST", "/v2/businessworkspaces", payload)
        assert reply.status == 200, reply.body
        return int(reply.body["results"]["id"])

    async def admin(self, method: str, what: str, **kw: Any) -> Any:
        async with self.http.request(method, f"{self.emu.admin_url}/{what}", **kw) as r:
            return await r.json()


async def login(http: aiohttp.ClientSession, emu: RunningEmulator, user: str = "Admin", pw: str = "livelink") -> str:
    async with http.post(f"{emu.url}/api/v1/auth", data={"username": user, "password": pw}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["ticket"])


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(users={"Admin": "livelink", "jdoe": "pw"}))
    yield emu
    await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(emulator: RunningEmulator, http: aiohttp.ClientSession) -> Api:
    return Api(http, emulator, await login(http, emulator))
