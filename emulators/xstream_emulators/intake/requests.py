"""The admin API's request bodies, checked, pure: a mail to deliver and a form submission.

Everything a message header carries is refused when it holds a line break (it would inject headers);
ids are accepted with or without angle brackets. Errors are 422 ``invalid_field`` (400 ``invalid_body``
for a body that is no JSON object, 413 ``too_large`` for an attachment above ``max_blob_bytes``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from xstream_emulators.intake.model import IntakeError, invalid

MESSAGE_ID_DOMAIN = "intake.example"
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_BREAK = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class AttachmentSpec:
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class MailSpec:
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    message_id: str
    """With angle brackets, as the header carries it."""
    in_reply_to: str | None
    references: tuple[str, ...]
    thread_index: str | None
    date: datetime
    attachments: tuple[AttachmentSpec, ...]


@dataclass(frozen=True)
class FormSpec:
    submission_id: str
    form_type: str
    case_id: str | None
    customer_id: str | None
    submitted_at: str
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The record value, its fields always in this order and all present."""
        return {"submission_id": self.submission_id, "form_type": self.form_type, "case_id": self.case_id,
                "customer_id": self.customer_id, "submitted_at": self.submitted_at, "fields": self.fields}


def mail_spec(body: Any, *, now: datetime, max_blob_bytes: int) -> MailSpec:
    fields = _object(body)
    sender = _header(fields, "from", required=True) or ""
    if "@" not in parseaddr(sender)[1]:
        raise invalid("from must be an address, e.g. 'Ann Lee <ann@example.com>'.")
    to_value = fields.get("to")
    to = (to_value,) if isinstance(to_value, str) else tuple(to_value) if isinstance(to_value, list) else ()
    if not to or not all(isinstance(t, str) and "@" in parseaddr(t)[1] and not _BREAK.search(t) for t in to):
        raise invalid("to must be an address or a non-empty list of addresses.")
    text = fields.get("text")
    if not isinstance(text, str):
        raise invalid("text must be a string.")
    references = fields.get("references") or []
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise invalid("references must be a list of Message-IDs.")
    attachments = fields.get("attachments") or []
    if not isinstance(attachments, list):
        raise invalid("attachments must be a list.")
    date = _header(fields, "date")
    return MailSpec(
        sender=sender, to=to, subject=_header(fields, "subject") or "", text=text,
        message_id=bracketed(_header(fields, "message_id") or f"{uuid.uuid4()}@{MESSAGE_ID_DOMAIN}", "message_id"),
        in_reply_to=_optional_id(fields, "in_reply_to"),
        references=tuple(bracketed(r, "references") for r in references),
        thread_index=_header(fields, "thread_index"),
        date=parse_date(date) if date else now,
        attachments=tuple(_attachment(a, i, max_blob_bytes) for i, a in enumerate(attachments)),
    )


def form_spec(body: Any, *, now: datetime) -> FormSpec:
    fields = _object(body)
    form_type = fields.get("form_type")
    if not isinstance(form_type, str) or not form_type.strip():
        raise invalid("form_type must be a non-empty string.")
    values = fields.get("fields")
    if not isinstance(values, dict):
        raise invalid("fields must be an object.")
    submitted_at = _string(fields, "submitted_at")
    if submitted_at is not None:
        _iso(submitted_at, "submitted_at")
    return FormSpec(
        submission_id=_string(fields, "submission_id") or str(uuid.uuid4()), form_type=form_type,
        case_id=_string(fields, "case_id"), customer_id=_string(fields, "customer_id"),
        submitted_at=submitted_at or now.isoformat(timespec="milliseconds").replace("+00:00", "Z"), fields=values)


def bracketed(value: str, name: str) -> str:
    """A Message-ID in angle brackets (added when absent); 422 when it is no ``local@domain``."""
    ident = value.strip().removeprefix("<").removesuffix(">")
    if not re.fullmatch(r"[^\s<>@]+@[^\s<>@]+", ident):
        raise invalid(f"{name}: {value!r} is not a Message-ID (local@domain).")
    return f"<{ident}>"


def parse_date(value: str) -> datetime:
    """An RFC 2822 date (as a Date header carries it) or ISO 8601; no zone means UTC."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        when = _iso(value, "date")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def pseudo_random_bytes(name: str, size: int) -> bytes:
    """The same bytes for the same name and size on every run, so tests can know their sha256 in advance."""
    seed = int.from_bytes(hashlib.sha256(f"{name}:{size}".encode()).digest()[:8], "big")
    return random.Random(seed).randbytes(size)  # noqa: S311 - test content, not security


def _attachment(value: Any, index: int, max_blob_bytes: int) -> AttachmentSpec:
    where = f"attachments[{index}]"
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an object.")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip() or _BREAK.search(name):
        raise invalid(f"{where}.name must be a non-empty file name.")
    media_type = value.get("media_type")
    if not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type):
        raise invalid(f"{where}.media_type must be a media type such as 'application/pdf'.")
    content, size = value.get("content_b64"), value.get("size")
    if content is not None:
        if not isinstance(content, str):
            raise invalid(f"{where}.content_b64 must be a base64 string.")
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{where}.content_b64 is not valid base64.") from None
    elif isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        if size > max_blob_bytes:
            raise _too_large(where, size, max_blob_bytes)
        data = pseudo_random_bytes(name, size)
    else:
        raise invalid(f"{where} needs content_b64 or a non-negative integer size.")
    if len(data) > max_blob_bytes:
        raise _too_large(where, len(data), max_blob_bytes)
    return AttachmentSpec(name, media_type.lower(), data)


def _too_large(where: str, size: int, limit: int) -> IntakeError:
    return IntakeError(413, "too_large", f"{where} is {size} bytes, limit {limit}.")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise IntakeError(400, "invalid_body", "The request body must be a JSON object.")
    return body


def _string(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise invalid(f"{name} must be a non-empty string.")
    return value


def _header(fields: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or _BREAK.search(value) or (required and not value.strip()):
        raise invalid(f"{name} must be a string without line breaks.")
    return value


def _optional_id(fields: dict[str, Any], name: str) -> str | None:
    value = _header(fields, name)
    return bracketed(value, name) if value else None


def _iso(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"{name}: {value!r} is neither an RFC 2822 nor an ISO 8601 date.") from None
