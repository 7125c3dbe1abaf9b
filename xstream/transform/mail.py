"""Inbound e-mail (flow F5): the raw RFC 5322/MIME bytes a mail connector delivers -> case parts.

One record is one message: :func:`parse_email` makes the e-mail's :class:`CasePart` (threading headers,
sender, subject, plain-text body) and one part per attachment, each pointing back into the record by its
MIME path (``mime:2.1``, IMAP numbering: a multipart's children are 1, 2, ...; a single-part message's
body is ``1``), so no attachment bytes travel beside the message; :func:`attachment_bytes` reads one
leaf back out of the stored message for the document sink. An attachment delivered by reference
(``message/external-body; access-type=URL``) points at its URL instead.

What is refused (``malformed_mime``, or ``oversize``) and what is tolerated: the email package repairs
most damage and records it as defects. Fatal are only the defects that lose parts: a multipart without
a boundary parameter, whose boundary never occurs, or whose parts cannot be found
(``NoBoundaryInMultipartDefect``, ``StartBoundaryNotFoundDefect``, ``MultipartInvariantViolationDefect``);
also no e-mail header at all, more than ``max_parts`` parts, nesting deeper than :data:`MAX_DEPTH`,
undecodable base64 in an attachment (its bytes would be wrong; missing padding is tolerated), and an
external body that is not an http(s) URL (the content would be lost silently). Tolerated (listed in
:attr:`ParsedEmail.tolerated`): a missing close boundary, header defects, a missing header/body
separator, bad base64 in the *body* (the text only feeds correlation). A missing or garbled Date falls
back to the record's Kafka timestamp (no timestamp either: refused). Nothing but ValueDecodeError escapes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import errors, policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, parseaddr, parsedate_to_datetime
from typing import TypeVar

from xstream.codec import DETAIL_MAX
from xstream.errors import DeadLetterReason, ValueDecodeError
from xstream.model.cases import CasePart, ContentRef
from xstream.model.record import RecordRef

MAX_PARTS = 200
MAX_DEPTH = 16
"""How deep multiparts may nest; real mail nests 3 or 4 levels (mixed > related > alternative)."""
MAX_ID = 512
"""A Message-ID longer than this is not an id (it would become a part id): treated as absent."""
MAX_REFERENCES = 100
"""References kept, the newest; a longer list only repeats the thread's ancestry."""
SOURCE = "mail"
T = TypeVar("T")

_FATAL = {errors.NoBoundaryInMultipartDefect: "multipart without a boundary parameter",
          errors.StartBoundaryNotFoundDefect: "multipart whose boundary never occurs",
          errors.MultipartInvariantViolationDefect: "multipart whose parts cannot be found"}
_FAILURES = (errors.MessageError, ValueError, TypeError, LookupError, AttributeError, OverflowError)
"""What the email package (and header/date parsing) may raise on hostile input; all become malformed_mime."""
_MAIL_HEADERS = {"from", "date", "message-id", "subject", "mime-version"}
_KEEP = policy.default.clone(refold_source="none", linesep="\r\n")
_ID = re.compile(r"<([^<>]*)>")
_NOISE = re.compile(r"<(style|script)\b[^<]*</\1\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")  # [^<>]: an unclosed "<" costs one scan to the next "<", not to the end
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/heic": "heic", "image/tiff": "tif",
        "application/pdf": "pdf", "text/plain": "txt", "text/html": "html", "text/calendar": "ics",
        "message/rfc822": "eml", "application/zip": "zip", "application/msword": "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}


@dataclass(frozen=True)
class ParsedEmail:
    email: CasePart
    attachments: tuple[CasePart, ...] = ()
    tolerated: tuple[str, ...] = ()
    """Names of the defects the email package repaired (for a log line or a metric, never a refusal)."""


def parse_email(raw: bytes, *, record: RecordRef, max_bytes: int, max_parts: int = MAX_PARTS) -> ParsedEmail:
    """The e-mail and its attachments as parts; raises ValueDecodeError (``oversize``, ``malformed_mime``)."""
    if len(raw) > max_bytes:
        raise ValueDecodeError(DeadLetterReason.OVERSIZE, f"e-mail is {len(raw)} bytes, limit {max_bytes}")
    return _guarded(lambda: _parse(raw, record, max_parts))


def attachment_bytes(raw: bytes, path: str) -> bytes:
    """One MIME leaf's decoded bytes, ``path`` as in its ContentRef (``mime:2.1`` or ``2.1``).

    Parses the stored message again (the parse keeps no offsets), so the bytes and their sha256 are the
    ones :func:`parse_email` reported. A path that names no leaf, or a leaf delivered by reference, is
    ``malformed_mime``: the caller's ContentRef does not belong to this message.
    """
    wanted = path.removeprefix("mime:")

    def read() -> bytes:
        leaf = dict(_leaves(_message(raw), max_parts=len(raw) + 1)[0]).get(wanted)
        if leaf is None:
            raise _malformed(f"no MIME leaf {wanted!r} in the message")
        if leaf.get_content_type() == "message/external-body":
            raise _malformed(f"mime:{wanted} is delivered by reference, not in the message")
        return _leaf_bytes(leaf, wanted)

    return _guarded(read)


def normalise_id(value: str | None) -> str | None:
    """A Message-ID as a key: angle brackets and whitespace gone, the domain lower case (ids compare
    case-sensitively in the local part only, RFC 5322 3.6.4); None for an empty or absurd id."""
    if not value:
        return None
    found = _ID.search(value)
    words = (found.group(1) if found else value).split()
    ident = "".join(words) if found else (words[0] if words else "")
    if not ident or len(ident) > MAX_ID:
        return None
    local, at, domain = ident.rpartition("@")
    return f"{local}@{domain.lower()}" if at else ident


def _guarded(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except RecursionError as exc:
        raise _malformed("nested too deeply for the MIME parser") from exc
    except _FAILURES as exc:
        raise _malformed(f"unreadable ({type(exc).__name__}: {exc})") from exc


def _parse(raw: bytes, record: RecordRef, max_parts: int) -> ParsedEmail:
    msg = _message(raw)
    leaves, tolerated = _leaves(msg, max_parts)
    digest = hashlib.sha256(raw).hexdigest()
    message_id = normalise_id(_raw(msg, "message-id"))
    key = message_id or f"sha256:{digest}"
    references = _ids(_raw(msg, "references"))[-MAX_REFERENCES:]
    thread_index = "".join((_raw(msg, "thread-index") or "").split())[:MAX_ID] or None
    body = msg.get_body(preferencelist=("plain", "html"))
    email = CasePart(
        part_id=f"mail:{key}", kind="email", source=SOURCE, received_at=_received_at(_raw(msg, "date"), record),
        name=_subject(msg), media_type="message/rfc822", size=len(raw), sha256=digest,
        content=ContentRef(kind="record", topic=record.topic, partition=record.partition, offset=record.offset),
        message_id=message_id, in_reply_to=next(iter(_ids(_raw(msg, "in-reply-to"))), None),
        references=references, thread_index=thread_index, sender=_sender(_raw(msg, "from")),
        text=_text(body) if isinstance(body, EmailMessage) else None,
    )
    attachments: list[CasePart] = []
    for path, leaf in leaves:
        if leaf is not body and _is_attachment(leaf):
            attachments.append(_attachment(leaf, path, len(attachments) + 1, email, key, record))
    return ParsedEmail(email=email, attachments=tuple(attachments), tolerated=tuple(tolerated))


def _message(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if not _MAIL_HEADERS.intersection(name.lower() for name in msg.keys()):
        raise _malformed("not an e-mail: no From, Date, Message-ID, Subject or MIME-Version header")
    return msg


def _leaves(msg: EmailMessage, max_parts: int) -> tuple[list[tuple[str, EmailMessage]], list[str]]:
    """The leaves in document order with their MIME paths, and the tolerated defects; refuses the fatal
    ones, too many parts and too deep a nesting. Iterative: the depth is checked, not the call stack."""
    leaves: list[tuple[str, EmailMessage]] = []
    tolerated: list[str] = []
    stack: list[tuple[str, EmailMessage, int]] = [("", msg, 0)]
    count = 0
    while stack:
        path, part, depth = stack.pop()
        count += 1
        if count > max_parts:
            raise _malformed(f"more than {max_parts} MIME parts")
        if depth > MAX_DEPTH:
            raise _malformed(f"MIME parts nested deeper than {MAX_DEPTH} levels")
        for defect in part.defects:
            if type(defect) in _FATAL:
                raise _malformed(f"{f'mime:{path}' if path else 'message'}: {_FATAL[type(defect)]}")
            tolerated.append(type(defect).__name__)
        if part.get_content_maintype() != "multipart":  # message/* too: a forwarded mail is one attachment
            leaves.append((path or "1", part))
            continue
        children = part.get_payload()
        if not isinstance(children, list):
            raise _malformed(f"{f'mime:{path}' if path else 'message'}: {_FATAL[errors.MultipartInvariantViolationDefect]}")
        stack.extend((f"{path}.{n}" if path else str(n), child, depth + 1)
                     for n, child in reversed(list(enumerate(children, 1))))
    return leaves, tolerated


def _is_attachment(part: EmailMessage) -> bool:
    """Everything but unnamed inline text: files, inline images (Content-ID), forwarded mails, calendars."""
    return (part.get_content_disposition() == "attachment" or part.get_filename() is not None
            or part.get_content_type() not in ("text/plain", "text/html"))


def _attachment(part: EmailMessage, path: str, n: int, email: CasePart, key: str, record: RecordRef) -> CasePart:
    described, size, digest = part, None, None  # described: the part whose headers name the file
    if part.get_content_type() == "message/external-body":
        described, content, size = _by_reference(part, path)
    else:
        data = _leaf_bytes(part, path)
        content = ContentRef(kind="record", topic=record.topic, partition=record.partition,
                             offset=record.offset, path=f"mime:{path}")
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    media_type = described.get_content_type() if "content-type" in described else "application/octet-stream"
    return CasePart(part_id=f"attachment:{key}:{path}", kind="attachment", source=SOURCE,
                    received_at=email.received_at, name=_filename(described) or f"attachment-{n}.{_EXT.get(media_type, 'bin')}",
                    media_type=media_type, size=size, sha256=digest, content=content, parent_part_id=email.part_id)


def _by_reference(part: EmailMessage, path: str) -> tuple[EmailMessage, ContentRef, int | None]:
    """RFC 2017: the URL (whitespace inside removed) and the inner headers naming the file; the size from
    the ``size`` parameter of the outer Content-Type or of the inner Content-Disposition."""
    access = (_param(part, "access-type") or "").lower()
    url = "".join((_param(part, "url") or "").split())
    if access != "url" or not url.lower().startswith(("https://", "http://")):
        raise _malformed(f"mime:{path}: external body with access-type {access!r} and no http(s) URL")
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage) \
        else EmailMessage()
    size = _param(part, "size") or _param(inner, "size", "content-disposition")
    return inner, ContentRef(kind="url", url=url), int(size) if size and size.isdigit() else None


def _leaf_bytes(part: EmailMessage, path: str) -> bytes:
    """Strict for base64 (an attachment's bytes must be its bytes), lenient for quoted-printable and the
    rest (the email package's decoding); a forwarded message is its serialised headers and body."""
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        return inner[0].as_bytes(policy=_KEEP) if isinstance(inner, list) and inner \
            and isinstance(inner[0], EmailMessage) else b""
    if str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
        text = part.get_payload(decode=False)
        try:
            compact = b"".join(str(text).encode("ascii", "surrogateescape").split())
            return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
        except ValueError as exc:  # binascii.Error, UnicodeEncodeError
            raise _malformed(f"mime:{path}: undecodable base64") from exc
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _text(part: EmailMessage) -> str:
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    try:
        text = data.decode(part.get_content_charset() or "utf-8", "replace")
    except (LookupError, ValueError):  # unknown or non-text codec ("base64", "rot13", a broken "idna")
        text = data.decode("utf-8", "replace")
    if part.get_content_subtype() == "html":  # crude: enough for a token and a preview
        text = html.unescape(_TAG.sub(" ", _NOISE.sub(" ", text)))
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return _clean(text).replace("\r\n", "\n")


def _received_at(value: str | None, record: RecordRef) -> datetime:
    """The Date header (no zone, or ``-0000``, is UTC); else the record's Kafka timestamp."""
    if value:
        try:
            when = parsedate_to_datetime(value)
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except (ValueError, TypeError, IndexError, OverflowError):
            pass
    if record.timestamp_ms is None:
        raise _malformed("no usable Date header and no record timestamp")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=record.timestamp_ms)


def _subject(msg: EmailMessage) -> str | None:
    try:
        value = str(msg.get("subject") or "")  # RFC 2047 decoded by the policy
    except _FAILURES:
        value = _raw(msg, "subject") or ""
    return " ".join(_clean(value).split()) or None


def _sender(value: str | None) -> str | None:
    address = parseaddr(value or "")[1].strip().lower()
    local, at, domain = address.partition("@")
    return address if local and at and domain and "@" not in domain and not any(c.isspace() for c in address) else None


def _filename(part: EmailMessage) -> str | None:
    """RFC 2231 / 2047 decoded; no directory, no control characters, at most 255 characters."""
    name = part.get_filename()
    if not name:
        return None
    return _UNSAFE.sub("", _clean(re.split(r"[/\\]", name)[-1])).strip()[:255] or None


def _ids(value: str | None) -> tuple[str, ...]:
    words = (_ID.findall(value) or value.split()) if value else []
    return tuple(dict.fromkeys(n for n in (normalise_id(f"<{w}>") for w in words) if n))


def _param(part: EmailMessage, name: str, header: str = "content-type") -> str | None:
    value = part.get_param(name, header=header)
    return _clean(collapse_rfc2231_value(value)) if value else None


def _raw(msg: EmailMessage, name: str) -> str | None:
    """A header as it was sent (unparsed: the ids, Date and From need no header registry)."""
    return next((_clean(str(v)) for k, v in msg.raw_items() if k.lower() == name), None)


def _clean(value: str) -> str:
    """Text that serialises: raw 8-bit bytes (kept by the parser as surrogate escapes) read as UTF-8."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _malformed(detail: str) -> ValueDecodeError:
    return ValueDecodeError(DeadLetterReason.MALFORMED_MIME, detail[:DETAIL_MAX])
