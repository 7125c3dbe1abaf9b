"""Fixtures of the client tests: an in-process emulator on a free port and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.unit.clients.support import settings_for
from xstream.clients.opentext import OpenTextClient


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig())
    yield emu
    await emu.stop()


@pytest.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[OpenTextClient]:
    async with OpenTextClient(settings_for(emulator)) as c:
        yield c
