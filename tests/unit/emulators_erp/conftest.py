"""Shared helpers for the ERP emulator tests: a running emulator and a small raw HTTP caller."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

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
