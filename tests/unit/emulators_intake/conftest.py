"""Shared helpers for the intake emulator tests: a running emulator and a small raw HTTP caller."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from xstream_emulators.intake import IntakeEmulatorConfig, RunningIntakeEmulator, start_intake_emulator

INLINE_LIMIT = 4096
"""Small, so by-reference attachments stay small in tests."""


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


@dataclass
class Intake:
    http: aiohttp.ClientSession
    emu: RunningIntakeEmulator

    async def admin(self, method: str, what: str, payload: Any = None, **kw: Any) -> Reply:
        if payload is not None:
            kw["data"] = json.dumps(payload)
        async with self.http.request(method, f"{self.emu.admin_url}/{what}", **kw) as r:
            assert r.content_type == "application/json", await r.text()
            return Reply(r.status, await r.json(), r.headers)

    async def mail(self, **fields: Any) -> dict[str, Any]:
        reply = await self.admin("POST", "mail", mail(**fields))
        assert reply.status == 201, reply.body
        return dict(reply.body)

    async def outbox(self, since: int = 0, **params: str) -> list[dict[str, Any]]:
        reply = await self.admin("GET", "outbox", params={"since": str(since), **params})
        assert reply.status == 200, reply.body
        return list(reply.body["items"])

    async def raw(self, seq: int) -> bytes:
        """The value of outbox item ``seq``, decoded."""
        item = next(i for i in await self.outbox(seq - 1) if i["seq"] == seq)
        return base64.b64decode(item["value_b64"])


def mail(**fields: Any) -> dict[str, Any]:
    return {"from": "Ann Lee <ann@example.com>", "to": "claims@insurer.example",
            "subject": "Water damage, policy PN-1001", "text": "Dear claims team,\nthe kitchen is flooded."} | fields


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def config() -> IntakeEmulatorConfig:
    return IntakeEmulatorConfig(inline_limit=INLINE_LIMIT)


@pytest.fixture
async def emulator(config: IntakeEmulatorConfig) -> AsyncIterator[RunningIntakeEmulator]:
    async with await start_intake_emulator(config) as emu:
        yield emu


@pytest.fixture
async def intake(http: aiohttp.ClientSession, emulator: RunningIntakeEmulator) -> Intake:
    return Intake(http, emulator)
