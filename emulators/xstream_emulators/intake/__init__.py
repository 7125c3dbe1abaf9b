"""A local intake for flow F5 (case assembly): the mail connector that delivers inbound e-mails to
Kafka as raw RFC 5322/MIME, and the web forms portal that delivers submissions as JSON.

    emulator = await start_intake_emulator(IntakeEmulatorConfig())
    POST {emulator.admin_url}/mail  {"from": "Ann Lee <ann@example.com>", "to": "claims@insurer.example",
                                     "subject": "...", "text": "...", "attachments": [{"name": "photo.jpg",
                                     "media_type": "image/jpeg", "size": 2000000}]}
    GET  {emulator.admin_url}/outbox?since=0      what the connector produces (xstream.demo.harness.IntakeForwarder)
    await emulator.stop()

**Mail** (``requests``, ``mime``): ``multipart/mixed``, a ``text/plain`` body and one part per
attachment; From, To, Subject, Date, Message-ID (``<uuid@intake.example>`` unless given),
In-Reply-To, References, Thread-Index as asked. Attachments up to ``inline_limit`` (512 KiB) are
inlined in base64; larger ones are kept here and referenced by an RFC 2017
``message/external-body; access-type=URL`` part pointing at ``GET /blobs/{id}`` (optionally behind a
bearer token, ``blob_token``). Content is given in base64 or generated (deterministic bytes of a size).
The outbox key of a mail is its Message-ID without angle brackets, the value the message's bytes.

**Forms**: ``{"submission_id", "form_type", "case_id", "customer_id", "submitted_at", "fields"}`` as
JSON, keyed by the submission id.

Admin API (unauthenticated): see ``admin``; the blob route: see ``routes``. Errors are
``{"error": {"code", "message"}}``.

Layers: ``config``, ``model``, ``requests``, ``mime`` and ``state`` are pure; ``web_common``,
``routes``, ``admin``, ``app`` and ``server`` are the aiohttp side. Exports resolve lazily (PEP 562)
so importing the pure modules does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream_emulators.intake.app import build_intake_app
    from xstream_emulators.intake.config import IntakeEmulatorConfig
    from xstream_emulators.intake.mime import AttachmentInfo, build_message
    from xstream_emulators.intake.model import Blob, IntakeError, OutboxItem
    from xstream_emulators.intake.requests import pseudo_random_bytes
    from xstream_emulators.intake.server import RunningIntakeEmulator, start_intake_emulator
    from xstream_emulators.intake.state import IntakeState

_EXPORTS = {
    "build_intake_app": "app",
    "IntakeEmulatorConfig": "config",
    "AttachmentInfo": "mime",
    "build_message": "mime",
    "Blob": "model",
    "IntakeError": "model",
    "OutboxItem": "model",
    "pseudo_random_bytes": "requests",
    "RunningIntakeEmulator": "server",
    "start_intake_emulator": "server",
    "IntakeState": "state",
}
__all__ = [
    "AttachmentInfo",
    "Blob",
    "IntakeEmulatorConfig",
    "IntakeError",
    "IntakeState",
    "OutboxItem",
    "RunningIntakeEmulator",
    "build_intake_app",
    "build_message",
    "pseudo_random_bytes",
    "start_intake_emulator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
