"""Fault injection of the OpenText emulator: its error kinds and actions (settings in emulators/faults.py).

Faults are decided *before* a call is processed: an injected error or hang means the server did
nothing, so a retry is always safe. (Faults after a side effect, the "did my create go through?"
case, are a later extension.) A hang never answers: the request waits until the client gives up
(closes the connection) or the emulator stops. ``expire_tickets`` and ``expire_tokens`` are
actions, not settings: they end every OTCS session / invalidate every OTDS access token once.

Settings come from ``OpenTextEmulatorConfig.faults`` (initial value, also restored by
``/admin/reset``), from ``POST /admin/faults`` (JSON, see :func:`parse_faults`) or from one CLI
flag string (see :func:`parse_fault_flags`).
"""

from __future__ import annotations

from typing import Any

from xstream.emulators import faults as shared
from xstream.emulators.faults import FIELDS, Faults, FaultSpecError

__all__ = ["ACTIONS", "ERROR_KINDS", "FIELDS", "FaultSpecError", "Faults", "parse_fault_flags", "parse_faults"]

ERROR_KINDS: tuple[str, ...] = ("500", "html500", "503")
"""500: JSON ``{"error"}``; html500: an HTML error page; 503: HTML with Retry-After."""
ACTIONS = ("expire_tickets", "expire_tokens")


def parse_faults(spec: Any) -> tuple[Faults, dict[str, bool]]:
    """Faults from the admin JSON (absent fields are off) and the one-shot actions requested."""
    return shared.parse_faults(spec, error_kinds=ERROR_KINDS, actions=ACTIONS)


def parse_fault_flags(spec: str) -> Faults:
    """One CLI flag value -> Faults (format in emulators/faults.py); empty string = no faults."""
    return shared.parse_fault_flags(spec, error_kinds=ERROR_KINDS)
