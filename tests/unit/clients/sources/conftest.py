"""Fixtures of the source-system document clients: the in-process ERP/CRM emulator (SAP attachments and
Salesforce Files), clients for it, and bodies to upload that are generated, never whole in memory."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

from xstream.clients.salesforce import SalesforceFilesClient
from xstream.clients.sap import SapAttachmentsClient
from xstream.content import Body, ContentInfo

CHUNK = 256 * 1024


class BytesBody:
    """A small body from bytes (``Body`` of xstream.content)."""

    def __init__(self, data: bytes, name: str = "po-4500000001.pdf", media_type: str = "application/pdf",
                 *, size: int | None = -1) -> None:
        self.data = data
        self._info = ContentInfo(name, media_type, len(data) if size == -1 else size)

    @property
    def info(self) -> ContentInfo:
        return self._info

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), 7000):
            yield self.data[start:start + 7000]


@dataclass
class GeneratedBody:
    """``size`` pseudo-random bytes made chunk by chunk as they are read; ``sha256`` once read."""

    size: int
    name: str = "scan.bin"
    media_type: str = "application/octet-stream"
    seed: int = 7
    sha256: str = field(default="", init=False)

    @property
    def info(self) -> ContentInfo:
        return ContentInfo(self.name, self.media_type, self.size)

    async def chunks(self) -> AsyncIterator[bytes]:
        rng, digest, left = random.Random(self.seed), hashlib.sha256(), self.size
        while left:
            chunk = rng.randbytes(min(CHUNK, left))
            left -= len(chunk)
            digest.update(chunk)
            yield chunk
        self.sha256 = digest.hexdigest()


async def read_all(body: Body) -> bytes:
    return b"".join([chunk async for chunk in body.chunks()])


@pytest.fixture
async def erp() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def sap(erp: RunningErpEmulator) -> AsyncIterator[SapAttachmentsClient]:
    async with SapAttachmentsClient(erp.origin) as client:
        yield client


@pytest.fixture
async def salesforce(erp: RunningErpEmulator) -> AsyncIterator[SalesforceFilesClient]:
    async with SalesforceFilesClient(erp.origin) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
