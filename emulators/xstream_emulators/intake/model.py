"""What the pure modules of the intake emulator share: the refused call, outbox items and stored blobs."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["mail", "form"]


class IntakeError(Exception):
    """A refused call, rendered as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(message: str) -> IntakeError:
    return IntakeError(422, "invalid_field", message)


@dataclass(frozen=True)
class OutboxItem:
    """One record the connector would produce: ``key`` is the Kafka key (Message-ID without angle
    brackets, or the submission id), ``value`` the record value (raw MIME, or the form's JSON)."""

    seq: int
    kind: Kind
    key: str
    value: bytes

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "key": self.key,
                "value_b64": base64.b64encode(self.value).decode("ascii")}


@dataclass(frozen=True)
class Blob:
    """An attachment too large to inline, served at ``/blobs/{id}``."""

    id: str
    name: str
    media_type: str
    data: bytes
    sha256: str
