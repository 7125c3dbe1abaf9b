"""Fault injection of the OpenText emulator: its error kinds and actions (settings in emulators/faults.py).

Latency, errors and hangs are decided *before* a call is processed: an injected error or hang means
the server did nothing, so a retry is always safe. A hang never answers: the request waits until
the client gives up (closes the connection) or the emulator stops.

Lost answers are the fault *after* a side effect, the "did my create go through?" case: with
``lost_answer_rate`` a successful (status < 400) mutating call (POST/PUT/PATCH/DELETE) runs, its
change is saved (``state.flush()``, uploads fully stored), then its answer is lost:
``lost_answer_kind`` ``reset`` aborts the connection (TCP RST) before any byte of the answer, the
client sees a reset / disconnected server; ``hang`` never answers, like a hang, then resets. The
login (``auth.login``), logout (``auth.logout``) and OTDS token (``otds.token``) calls are exempt
unless named in ``operations``. Lost answers are counted apart from the injected faults
(``lost_answers`` in ``/admin/faults``). ``expire_tickets`` and ``expire_tokens`` are
actions, not settings: they end every OTCS session / invalidate every OTDS access token once.

Settings come from ``OpenTextEmulatorConfig.faults`` (initial value, also restored by
``/admin/reset``), from ``POST /admin/faults`` (JSON, see :func:`parse_faults`) or from one CLI
flag string (see :func:`parse_fault_flags`).
"""

from __future__ import annotations

from typing import Any

from xstream_emulators import faults as shared
from xstream_emulators.faults import FIELDS, Faults, FaultSpecError

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
