"""Fault injection of the ERP emulator: its error kinds and actions (settings in emulators/faults.py).

Errors and hangs are decided *before* a call is processed: an injected error or hang means the
server did nothing (no record changed, no Idempotency-Key claimed), so a retry is always safe. A
hang never answers: the request waits until the client gives up or the emulator stops. Latency is
the time the work itself takes: it is spent *after* a call's Idempotency-Key has been claimed, so a
second request with the same key meanwhile sees 409 (still in flight). ``expire_tokens`` is an
action, not a setting: it invalidates every issued OAuth2 token once; ``expire_csrf_tokens`` does the
same to the SAP attachment service's CSRF tokens (the next write is refused with 403 until a new fetch).

Lost answers are the fault *after* a side effect, the "did my create go through?" case: with
``lost_answer_rate`` a successful (status < 400) mutating call (POST/PATCH/DELETE) runs, its change is in
the change log (``/admin/changes``) and its answer is stored under its Idempotency-Key, then the
answer is lost: ``lost_answer_kind`` ``reset`` aborts the connection (TCP RST) before any byte of
it, ``hang`` never answers, like a hang, then resets. A retry with the same key is answered from
the store (``Idempotent-Replayed: true``) and that replay, which did nothing, is never lost; a
retry without a key runs again (a second record). The token call (``oauth.token``) is exempt
unless named in ``operations``. Lost answers are counted apart from the injected faults
(``lost_answers`` in ``/admin/faults``).

Settings come from ``ErpEmulatorConfig.faults`` (initial value, also restored by ``/admin/reset``),
from ``POST /admin/faults`` (JSON, see :func:`parse_faults`) or from one CLI flag string (see
:func:`parse_fault_flags`).
"""

from __future__ import annotations

from typing import Any

from xstream_emulators import faults as shared
from xstream_emulators.faults import FIELDS, Faults, FaultSpecError

__all__ = ["ACTIONS", "ERROR_KINDS", "FIELDS", "FaultSpecError", "Faults", "parse_fault_flags", "parse_faults"]

ERROR_KINDS: tuple[str, ...] = ("500", "503", "429")
"""500: ``{"error"}`` JSON; 503 and 429: JSON with ``Retry-After`` when retry_after_s is set."""
ACTIONS = ("expire_tokens", "expire_csrf_tokens")


def parse_faults(spec: Any) -> tuple[Faults, dict[str, bool]]:
    """Faults from the admin JSON (absent fields are off) and the one-shot actions requested."""
    return shared.parse_faults(spec, error_kinds=ERROR_KINDS, actions=ACTIONS)


def parse_fault_flags(spec: str) -> Faults:
    """One CLI flag value -> Faults (format in emulators/faults.py); empty string = no faults."""
    return shared.parse_fault_flags(spec, error_kinds=ERROR_KINDS)
