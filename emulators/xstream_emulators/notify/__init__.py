"""A faithful local receiver of chat incoming webhooks (Slack incoming webhooks and Microsoft Teams
Workflows webhooks) for tests, demo and CLI: where xstream's notifications to teams land.

    emulator = await start_notify_emulator(NotifyEmulatorConfig())
    url = emulator.channel_url("legal", "teams")      # http://127.0.0.1:<port>/teams/legal/legal-token
    ...
    emulator.state.find("legal")                       # the messages received, or GET /admin/messages
    await emulator.stop()

**API** (one URL per channel and service, the token in the path like the real webhook URLs):

    POST /slack/{channel}/{token}   Slack incoming webhook: JSON (or form field ``payload``) with a
                                    non-empty ``text`` or ``blocks`` -> 200 "ok" (text/plain)
    POST /teams/{channel}/{token}   Teams workflow webhook: {"type": "message", "attachments":
                                    [Adaptive Card 1.x with a non-empty body]} -> 202, empty body,
                                    ``x-ms-workflow-run-id``

Errors as each service sends them. Slack, plain text: 400 invalid_payload / invalid_blocks_format /
invalid_blocks / no_text, 403 invalid_token, 404 channel_not_found (no_service for another URL), 405,
413 request_too_large. Teams, ``{"error": {"code", "message"}}``: 400 InvalidRequestContent (the
message says what is wrong), 401 DirectApiAuthorizationRequired (wrong token), 404 WorkflowNotFound,
405 MethodNotAllowed, 413 RequestEntityTooLarge. Bodies are limited to ``max_body_bytes`` (1 MiB).

Neither service honours **Idempotency-Key**, so neither does the emulator: every accepted POST is one
more message, duplicates included; the key, ``X-Xstream-Origin`` and ``X-Xstream-Causation`` are
kept with the message so tests can see what the sender meant.

**Channels** (``config.channels``, name -> token): commercial, legal, procurement, finance with tokens
"<name>-token" by default. **Faults** (``faults``): error kinds 500, 503, 429 (503 and 429 with
``Retry-After`` when retry_after_s is set), hangs, latency, limited to operations. Operations as
counted in ``/admin/calls``: slack.post, teams.post (+ ``state_changing``, the messages recorded).
Admin API (unauthenticated, not counted, never faulted): see ``admin``.

Layers: ``model``, ``config``, ``faults``, ``slack``, ``teams`` and ``state`` are pure;
``web_common``, ``routes``, ``app``, ``admin`` and ``server`` are the aiohttp side. Exports resolve
lazily (PEP 562) so importing the pure modules does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream_emulators.notify.app import build_notify_app
    from xstream_emulators.notify.config import DEFAULT_CHANNELS, NotifyEmulatorConfig
    from xstream_emulators.notify.faults import Faults, FaultSpecError, parse_fault_flags, parse_faults
    from xstream_emulators.notify.model import FORMATS, Format, WebhookError
    from xstream_emulators.notify.server import RunningNotifyEmulator, start_notify_emulator
    from xstream_emulators.notify.state import Message, NotifyState

_EXPORTS = {
    "build_notify_app": "app",
    "DEFAULT_CHANNELS": "config",
    "NotifyEmulatorConfig": "config",
    "Faults": "faults",
    "FaultSpecError": "faults",
    "parse_fault_flags": "faults",
    "parse_faults": "faults",
    "FORMATS": "model",
    "Format": "model",
    "WebhookError": "model",
    "RunningNotifyEmulator": "server",
    "start_notify_emulator": "server",
    "Message": "state",
    "NotifyState": "state",
}
__all__ = [
    "DEFAULT_CHANNELS",
    "FORMATS",
    "FaultSpecError",
    "Faults",
    "Format",
    "Message",
    "NotifyEmulatorConfig",
    "NotifyState",
    "RunningNotifyEmulator",
    "WebhookError",
    "build_notify_app",
    "parse_fault_flags",
    "parse_faults",
    "start_notify_emulator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
