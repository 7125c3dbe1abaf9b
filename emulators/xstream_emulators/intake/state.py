"""Everything the intake emulator remembers, pure (no aiohttp): the outbox a connector would produce
from (mails and form submissions, in arrival order) and the attachments delivered by reference."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from xstream_emulators.intake.config import IntakeEmulatorConfig
from xstream_emulators.intake.mime import AttachmentInfo, build_message
from xstream_emulators.intake.model import Blob, IntakeError, Kind, OutboxItem
from xstream_emulators.intake.requests import AttachmentSpec, form_spec, mail_spec


class IntakeState:
    def __init__(self, config: IntakeEmulatorConfig | None = None, *,
                 wall: Callable[[], float] = time.time) -> None:
        self.config = config or IntakeEmulatorConfig()
        self.wall = wall
        self.reset()

    def reset(self) -> None:
        """No outbox items (``seq`` restarts at 1, like the ERP's change log), no blobs, no counts."""
        self.outbox: list[OutboxItem] = []
        self.blobs: dict[str, Blob] = {}
        self.blob_downloads = 0

    @property
    def last_seq(self) -> int:
        return self.outbox[-1].seq if self.outbox else 0

    def submit_mail(self, body: Any, *, public_url: str) -> tuple[OutboxItem, str, list[AttachmentInfo]]:
        """Build the message of an admin request and queue it; (its item, its Message-ID header,
        its attachments). Blobs are kept only when the message is accepted (413 leaves none behind)."""
        spec = mail_spec(body, now=self._now(), max_blob_bytes=self.config.max_blob_bytes)
        pending: list[Blob] = []

        def offload(attachment: AttachmentSpec) -> tuple[str, str]:
            blob = Blob(uuid.uuid4().hex, attachment.name, attachment.media_type, attachment.data,
                        hashlib.sha256(attachment.data).hexdigest())
            pending.append(blob)
            return blob.id, f"{public_url}/blobs/{blob.id}"

        raw, infos = build_message(spec, inline_limit=self.config.inline_limit, offload=offload)
        if len(raw) > self.config.max_message_bytes:
            raise IntakeError(413, "too_large",
                              f"The message is {len(raw)} bytes, limit {self.config.max_message_bytes}.")
        self.blobs.update((blob.id, blob) for blob in pending)
        return self._queue("mail", spec.message_id[1:-1], raw), spec.message_id, infos

    def submit_form(self, body: Any) -> OutboxItem:
        spec = form_spec(body, now=self._now())
        return self._queue("form", spec.submission_id, orjson.dumps(spec.as_json()))

    def since(self, seq: int, limit: int | None = None) -> list[OutboxItem]:
        found = [item for item in self.outbox if item.seq > seq]
        return found[:limit] if limit is not None else found

    def blob(self, blob_id: str) -> Blob:
        found = self.blobs.get(blob_id)
        if found is None:
            raise IntakeError(404, "not_found", f"There is no blob {blob_id!r}.")
        return found

    def snapshot(self) -> dict[str, Any]:
        kinds = [item.kind for item in self.outbox]
        return {"outbox": len(self.outbox), "mails": kinds.count("mail"), "forms": kinds.count("form"),
                "last_seq": self.last_seq, "blobs": len(self.blobs),
                "blob_bytes": sum(len(b.data) for b in self.blobs.values()), "blob_downloads": self.blob_downloads}

    def _queue(self, kind: Kind, key: str, value: bytes) -> OutboxItem:
        item = OutboxItem(self.last_seq + 1, kind, key, value)
        self.outbox.append(item)
        return item

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)
