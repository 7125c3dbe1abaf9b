"""Shared helpers for the notification emulator tests: a running emulator and a small raw HTTP caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from xstream_emulators.notify import NotifyEmulatorConfig, RunningNotifyEmulator, start_notify_emulator


@dataclass
class Reply:
    status: int
    text: str
    headers: Any

    def json(self) -> Any:
        return json.loads(self.text)


def card(*texts: str, version: str = "1.4") -> dict[str, Any]:
    """A Teams workflow message with one Adaptive Card of TextBlocks."""
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": version, "body": [{"type": "TextBlock", "text": t, "wrap": True} for t in texts]}}]}


@dataclass
class Notify:
    http: aiohttp.ClientSession
    emu: RunningNotifyEmulator

    async def post(self, url: str, payload: Any = None, *, raw: bytes | None = None,
                   content_type: str = "application/json", headers: dict[str, str] | None = None,
                   **kw: Any) -> Reply:
        kw.setdefault("data", raw if raw is not None else json.dumps(payload).encode())
        sent = {"Content-Type": content_type} | (headers or {})
        async with self.http.post(url, headers=sent, **kw) as r:
            return Reply(r.status, await r.text(), r.headers)

    async def slack(self, channel: str, payload: Any, **kw: Any) -> Reply:
        return await self.post(self.emu.channel_url(channel, "slack"), payload, **kw)

    async def teams(self, channel: str, payload: Any, **kw: Any) -> Reply:
        return await self.post(self.emu.channel_url(channel, "teams"), payload, **kw)

    async def admin(self, method: str, what: str, payload: Any = None, **kw: Any) -> Any:
        async with self.http.request(method, f"{self.emu.admin_url}/{what}", json=payload, **kw) as r:
            return await r.json()

    async def messages(self, **params: str) -> list[dict[str, Any]]:
        answer = await self.admin("GET", "messages", params=params)
        assert answer["count"] == len(answer["messages"])
        return list(answer["messages"])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def emulator() -> AsyncIterator[RunningNotifyEmulator]:
    async with await start_notify_emulator(NotifyEmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def notify(http: aiohttp.ClientSession, emulator: RunningNotifyEmulator) -> Notify:
    return Notify(http, emulator)
