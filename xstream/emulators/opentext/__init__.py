"""A faithful local OpenText Content Server (Business Workspaces subset) for tests, demo and CLI.

    emulator = await start_opentext_emulator(OpenTextEmulatorConfig())
    settings = OpenTextSettings(base_url=emulator.url)   # inspect with GET {emulator.admin_url}/state
    await emulator.stop()

Layers: ``seed``, ``state``, ``tickets``, ``faults`` and ``views`` are pure; ``encoding``, ``app``,
``admin`` and ``server`` are the aiohttp side. Exports resolve lazily (PEP 562) so importing the
pure modules does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream.emulators.opentext.app import build_opentext_app
    from xstream.emulators.opentext.config import OpenTextEmulatorConfig
    from xstream.emulators.opentext.seed import SEED_TYPES, AttributeSeed, WorkspaceTypeSeed
    from xstream.emulators.opentext.server import RunningEmulator, start_opentext_emulator
    from xstream.emulators.opentext.state import ApiError, OpenTextState

_EXPORTS = {
    "build_opentext_app": "app",
    "OpenTextEmulatorConfig": "config",
    "SEED_TYPES": "seed",
    "AttributeSeed": "seed",
    "WorkspaceTypeSeed": "seed",
    "RunningEmulator": "server",
    "start_opentext_emulator": "server",
    "ApiError": "state",
    "OpenTextState": "state",
}
__all__ = [
    "ApiError",
    "AttributeSeed",
    "OpenTextEmulatorConfig",
    "OpenTextState",
    "RunningEmulator",
    "SEED_TYPES",
    "WorkspaceTypeSeed",
    "build_opentext_app",
    "start_opentext_emulator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
