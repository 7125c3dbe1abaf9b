"""Dead letters: a record xstream could not process, with a typed reason and the original bytes.

The original key and value are kept (as UTF-8 text where they decode, base64 otherwise) so that
an operator can fix the cause and re-drive the record; nothing is silently dropped.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from xstream.errors import DeadLetterReason
from xstream.model.record import RecordRef

Stage = Literal["decode", "map", "sink"]
Encoding = Literal["utf-8", "base64"]


MAX_KEPT_BYTES = 65_536
"""Payloads are cut to this so a dead letter always fits the broker's message size limit."""


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True)

    encoding: Encoding
    data: str
    size: int
    """Size of the original payload in bytes."""
    truncated: bool = False
    sha256: str
    """Digest of the original payload: identifies it when ``data`` was truncated."""

    @classmethod
    def of(cls, raw: bytes, limit: int = MAX_KEPT_BYTES) -> Payload:
        kept = raw[:limit]
        size, truncated, digest = len(raw), len(raw) > limit, hashlib.sha256(raw).hexdigest()
        encoding: Encoding
        try:
            text, encoding = kept.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
        return cls(encoding=encoding, data=text, size=size, truncated=truncated, sha256=digest)

    def to_bytes(self) -> bytes:
        return self.data.encode("utf-8") if self.encoding == "utf-8" else base64.b64decode(self.data)


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    reason: DeadLetterReason
    detail: str
    stage: Stage
    source: RecordRef
    """Where the record was read; partition -1 and offset -1 when it was refused at an ingress before
    it reached its topic (``received`` says where it came from)."""
    received: str | None = None
    """For records refused at an ingress: how they arrived, e.g. ``webhook POST /hooks/opentext``."""
    key: Payload | None = None
    value: Payload | None = None
    idempotency_key: str | None = None
    occurred_at: datetime
