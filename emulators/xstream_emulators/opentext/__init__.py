"""A faithful local OpenText Content Server (Business Workspaces subset) for tests, demo and CLI.

    emulator = await start_opentext_emulator(OpenTextEmulatorConfig())
    settings = OpenTextSettings(base_url=emulator.url)   # inspect with GET {emulator.admin_url}/state
    await emulator.stop()

Configuration (``OpenTextEmulatorConfig``): host, port, base_path, users, ticket_lifetime_s,
otds_clients (OAuth2 client_id -> secret for ``POST /otdsws/oauth2/token``; tokens act as Admin),
otds_token_lifetime_s, content_dir (documents on disk; default a temporary directory),
db_path (SQLite file: state survives restarts; content then defaults to ``<db stem>-content``),
faults (initial fault injection, e.g. ``parse_fault_flags("latency_ms=5-50,error_rate=0.05")``),
hooks (``HookTarget(url, secret, events=None)``: server-side event hooks that POST signed
notifications of document and workflow changes, see ``hooks``), large_files (``LargeFileSettings``:
Large File Upload enabled, min/max size, part size, session lifetime, see ``multipart``),
public_url (the scheme and host of the links ``copylink`` gives).
Admin API (unauthenticated, not counted): see ``admin``.

Layers: ``model``, ``seed``, ``state`` and the domain modules (``workspaces``, ``teams``, ``nodes``,
``documents``, ``multipart``, ``categories``, ``workflows``, ``workflow_status``, ``attachments``,
``audit``, ``hooks``), ``tickets``, ``faults``, ``content``, ``persistence`` and the views (``views``,
``views_more``, ``snapshot``) are pure; ``encoding``, ``app``, ``routes_*``, ``admin``,
``hook_sender`` and ``server`` are the aiohttp side. Exports resolve lazily (PEP 562) so importing
the pure modules does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream_emulators.opentext.app import build_opentext_app
    from xstream_emulators.opentext.config import OpenTextEmulatorConfig
    from xstream_emulators.opentext.faults import Faults, FaultSpecError, parse_fault_flags, parse_faults
    from xstream_emulators.opentext.hooks import HookTarget
    from xstream_emulators.opentext.multipart import LargeFileSettings, parse_large_file_flags
    from xstream_emulators.opentext.seed import SEED_TYPES, AttributeSeed, WorkspaceTypeSeed
    from xstream_emulators.opentext.server import RunningEmulator, start_opentext_emulator
    from xstream_emulators.opentext.state import ApiError, OpenTextState

_EXPORTS = {
    "build_opentext_app": "app",
    "OpenTextEmulatorConfig": "config",
    "Faults": "faults",
    "FaultSpecError": "faults",
    "parse_fault_flags": "faults",
    "parse_faults": "faults",
    "HookTarget": "hooks",
    "LargeFileSettings": "multipart",
    "parse_large_file_flags": "multipart",
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
    "FaultSpecError",
    "Faults",
    "HookTarget",
    "LargeFileSettings",
    "OpenTextEmulatorConfig",
    "OpenTextState",
    "RunningEmulator",
    "SEED_TYPES",
    "WorkspaceTypeSeed",
    "build_opentext_app",
    "parse_fault_flags",
    "parse_faults",
    "parse_large_file_flags",
    "start_opentext_emulator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
