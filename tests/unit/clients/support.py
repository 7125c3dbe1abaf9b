"""Helpers shared by the client tests: settings for an emulator, its admin API, byte sources."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import aiohttp
from pydantic import HttpUrl, SecretStr
from xstream_emulators.opentext import (
    SEED_TYPES,
    AttributeSeed,
    OpenTextEmulatorConfig,
    RunningEmulator,
    WorkspaceTypeSeed,
    start_opentext_emulator,
)
from xstream_emulators.opentext.state import OpenTextState

from xstream.clients.opentext import source_body
from xstream.content import BodyOpener, ContentInfo
from xstream.settings import OpenTextSettings

CONTRACT_TYPE = WorkspaceTypeSeed(
    5, "Contract", "Contracts", "Contract Template", "Contract",
    (AttributeSeed("Contract Number"), AttributeSeed("Amount", "integer"), AttributeSeed("Rate", "number"),
     AttributeSeed("Signed", "boolean"), AttributeSeed("Start Date", "date"),
     AttributeSeed("Parties", "array", (AttributeSeed("Party"), AttributeSeed("Share", "integer")))),
)
"""A workspace type whose category has typed attributes (the seeded ones are all text), as its
create form shows them: string, integer, number, boolean, date and a set."""


async def start_typed_emulator() -> RunningEmulator:
    """The emulator with the seeded workspace types and :data:`CONTRACT_TYPE`."""
    return await start_opentext_emulator(OpenTextEmulatorConfig(),
                                         OpenTextState(seed_types=(*SEED_TYPES, CONTRACT_TYPE)))


def settings_for(emu: RunningEmulator, **overrides: Any) -> OpenTextSettings:
    return OpenTextSettings(base_url=HttpUrl(emu.url), **overrides)


def otds_settings_for(emu: RunningEmulator, **overrides: Any) -> OpenTextSettings:
    """OTDS on the emulator's own host, with the emulator's default OAuth2 client."""
    root = emu.url.removesuffix(emu.config.base_path)
    return settings_for(emu, otds_url=HttpUrl(root), otds_client_id="xstream",
                        otds_client_secret=SecretStr("xstream-secret"), **overrides)


async def admin(emu: RunningEmulator, method: str, path: str, **kw: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, f"{emu.admin_url}/{path}", **kw) as r:
        assert r.status == 200, await r.text()
        return await r.json()


class BytesSource:
    """A re-openable upload source over bytes, counting how often it was opened."""

    def __init__(self, data: bytes, chunk: int = 64 * 1024) -> None:
        self.data, self.chunk, self.opened = data, chunk, 0
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.size = len(data)

    def __call__(self) -> AsyncIterable[bytes]:
        self.opened += 1
        return self._chunks()

    def body(self, name: str = "file.bin", media_type: str = "application/octet-stream", *,
             sized: bool = True) -> BodyOpener:
        """An opener of these bytes as a document body (each opening counts in ``opened``)."""
        return source_body(self, ContentInfo(name=name, media_type=media_type, size=self.size if sized else None))

    async def _chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start:start + self.chunk]
