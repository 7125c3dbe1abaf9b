"""The body a server-side hook POSTs to the webhook ingress: thin, so hooks stay small. Pure.

    {"event_id": "audit-4711", "event": "document.attributes_changed", "node_id": 100123,
     "process_id": null, "occurred_at": "2026-12-01T07:16:20Z", "user_id": 1000}

``event`` is one of the :class:`~xstream.model.opentext.EventKind` values, or a Content Script
event name (``NodeCreate``, ``NodeAddVersion``, ``NodeUpdate``). Document events name the
``node_id``, ``workflow.finished`` the ``process_id``. Nothing else is trusted: the ingress reads
the state from OpenText's REST API, as the poller does. Unknown fields are ignored, so hooks can
send more than this.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xstream.codec import MAX_NESTING, too_deep
from xstream.errors import DeadLetterReason, ValueDecodeError
from xstream.model.opentext import EventKind

ALIASES = {"NodeCreate": EventKind.DOCUMENT_ADDED, "NodeAddVersion": EventKind.VERSION_ADDED,
           "NodeUpdate": EventKind.ATTRIBUTES_CHANGED}
"""Content Script event names (AnswerModules CSEvents) accepted for the kinds."""


class HookNotification(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str | None = Field(default=None, max_length=200)
    event: EventKind
    node_id: int | None = Field(default=None, gt=0, strict=True)
    process_id: int | None = Field(default=None, gt=0, strict=True)
    occurred_at: datetime | None = None
    user_id: int | None = None

    @field_validator("event", mode="before")
    @classmethod
    def _alias(cls, raw: object) -> object:
        return ALIASES.get(raw, raw) if isinstance(raw, str) else raw

    @model_validator(mode="after")
    def _subject(self) -> HookNotification:
        if self.event is EventKind.WORKFLOW_FINISHED and self.process_id is None:
            raise ValueError("workflow.finished needs process_id")
        if self.event is not EventKind.WORKFLOW_FINISHED and self.node_id is None:
            raise ValueError(f"{self.event.value} needs node_id")
        return self


def parse_hook(body: bytes) -> HookNotification:
    """The notification, or a ValueDecodeError whose reason is the dead letter's (and the 400's)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueDecodeError(DeadLetterReason.MALFORMED_JSON, f"not JSON: {exc}") from exc
    if too_deep(body, doc):  # as every input: a hook is thin, and deep values break error reporting (repr)
        raise ValueDecodeError(DeadLetterReason.MALFORMED_JSON, f"nested deeper than {MAX_NESTING} levels")
    if not isinstance(doc, dict):
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"expected a JSON object, got {type(doc).__name__}")
    try:
        return HookNotification.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        if first["loc"] == ("event",) and first["type"] == "enum":
            reason = DeadLetterReason.UNKNOWN_OP
        elif first["type"] == "missing" or "needs" in first["msg"]:
            reason = DeadLetterReason.MISSING_FIELD
        else:
            reason = DeadLetterReason.WRONG_ENVELOPE
        raise ValueDecodeError(reason, f"{where}: {first['msg']}") from exc
