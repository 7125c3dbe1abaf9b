"""Fault injection of the notification emulator: its error kinds (settings in emulators/faults.py).

Errors and hangs are decided *before* a call is processed: an injected error or hang means no
message was recorded, so a retry is always safe (and, as neither service honours Idempotency-Key,
the only way to post a message exactly once). Each service words the error its own way (see
``model.REFUSALS``): Slack as plain text (``internal_error``, ``service_unavailable``,
``rate_limited``), Teams as ``{"error": {"code", "message"}}`` (InternalServerError,
ServiceUnavailable, TooManyRequests). A hang never answers until the client gives up or the
emulator stops. Latency is spent before the message is recorded. No one-shot actions.

Lost answers are the fault *after* a side effect, the "did my message go through?" case: with
``lost_answer_rate`` an accepted message (status < 400) is recorded, then its answer is lost:
``lost_answer_kind`` ``reset`` aborts the connection (TCP RST) before any byte of it, ``hang`` never
answers, like a hang, then resets. A sender that retries posts the message twice, as with the real
services. Refused posts are never lost. Lost answers are counted apart from the injected faults
(``lost_answers`` in ``/admin/faults`` and ``/admin/state``).

Settings come from ``NotifyEmulatorConfig.faults`` (initial value, also restored by
``/admin/reset``), from ``POST /admin/faults`` (JSON, see :func:`parse_faults`) or from one CLI flag
string (see :func:`parse_fault_flags`).
"""

from __future__ import annotations

from typing import Any

from xstream_emulators import faults as shared
from xstream_emulators.faults import FIELDS, Faults, FaultSpecError

__all__ = ["ACTIONS", "ERROR_KINDS", "FIELDS", "FaultSpecError", "Faults", "parse_fault_flags", "parse_faults"]

ERROR_KINDS: tuple[str, ...] = ("500", "503", "429")
"""500; 503 and 429 with ``Retry-After`` when retry_after_s is set (Slack's rate limit is a 429 with it)."""
ACTIONS: tuple[str, ...] = ()


def parse_faults(spec: Any) -> tuple[Faults, dict[str, bool]]:
    """Faults from the admin JSON (absent fields are off); no actions exist, so the dict is empty."""
    return shared.parse_faults(spec, error_kinds=ERROR_KINDS, actions=ACTIONS)


def parse_fault_flags(spec: str) -> Faults:
    """One CLI flag value -> Faults (format in emulators/faults.py); empty string = no faults."""
    return shared.parse_fault_flags(spec, error_kinds=ERROR_KINDS)
