"""Large File Upload (``/v2/multipart``): sessions that receive a file in numbered parts. Pure (file
I/O only, through the content store).

A client reads the settings (``is_enabled``, ``min_size``, ``max_size``), starts a session for one
file (name, size, MIME type) and is told the ``upload_key``, how many parts of what size to send
and how often it may retry a part. Each part streams to a file of its own; completing the session
assembles the parts, in order, into one upload; ``POST /v2/nodes`` (type 144) or
``POST /v2/nodes/{id}/versions`` then take it by ``upload_key`` instead of a file, which uses the
session up. Cancelling removes the session and its parts.

Errors are the server's (Content Server REST 2.0.2; all 500 ``{"error"}`` but a malformed part
number): "Invalid block size: File size must be between {min_size} and {max_size} bytes.",
"Multipart Upload session expired" (a session lives ``session_lifetime_s`` from its start; an
expired one keeps answering so, its parts are gone), "Invalid BlockID: Expected BlockID between 1
and {n}", "Invalid BlockID: BlockID {n} has already been uploaded." (also for every part once the
session is complete, so a client may take it as "done"), "Invalid status. Cannot close an empty or
already closed upload.", and "Failed to complete request. Either the UploadKey is invalid, or you do
not have permission to access this upload session" for a key that is unknown or another user's.
A key that is unknown, not completed, expired or used up is 400 "Error: File could not be found
within the upload directory." to the calls that take it. Not in the file, chosen here: a part of
another length than the session expects is refused ("Invalid block size: ..."; every part but the
last has ``part_size`` bytes), completing with parts missing is refused ("Invalid status. ..."), and
the assembled file is checked against the declared ``file_size`` at completion. Sessions are not
saved by persistence (like tickets: a restarted server knows none).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext.content import CHUNK_SIZE, Upload
from xstream_emulators.opentext.model import ApiError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from xstream_emulators.opentext.state import OpenTextState

MIB = 1 << 20
INVALID_KEY = ("Failed to complete request. Either the UploadKey is invalid, or you do not have permission to "
               "access this upload session")
EXPIRED = "Multipart Upload session expired"
CANNOT_CLOSE = "Invalid status. Cannot close an empty or already closed upload."
FILE_NOT_FOUND = "Error: File could not be found within the upload directory."
SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": MIB, "mib": MIB, "g": 1 << 30, "gib": 1 << 30}


@dataclass(frozen=True)
class LargeFileSettings:
    """What ``GET /v2/multipart/settings`` tells, and how the sessions behave (OpenTextEmulatorConfig)."""

    enabled: bool = True
    min_size: int = 16 * MIB
    """Smallest file a session takes (``min_size``); a client uploads smaller files in one request."""
    max_size: int = 64 << 30
    part_size: int = 8 * MIB
    """Bytes per part (the last one has the rest)."""
    session_lifetime_s: float = 3600.0
    """A session expires this long after it started (on the state's clock)."""
    max_retries: int = 3
    """``max_retries`` of the start answer: how often a client may send a part again (not enforced)."""

    def __post_init__(self) -> None:
        if not 0 <= self.min_size <= self.max_size:
            raise ValueError("large files: need 0 <= min_size <= max_size")
        if self.part_size < 1 or self.session_lifetime_s <= 0 or self.max_retries < 0:
            raise ValueError("large files: part_size >= 1, session_lifetime_s > 0 and max_retries >= 0")

    def as_json(self) -> dict[str, Any]:
        return {"is_enabled": self.enabled, "min_size": self.min_size, "max_size": self.max_size}


def parse_large_file_flags(spec: str) -> LargeFileSettings:
    """One CLI flag value, e.g. ``min_size=1MiB,part_size=256KiB,session_lifetime_s=60,enabled=false``."""
    fields: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not value:
            raise ValueError(f"expected name=value, got {item!r}")
        try:
            if name == "enabled":
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                fields[name] = value.lower() in ("true", "1", "yes")
            elif name in ("min_size", "max_size", "part_size"):
                fields[name] = _size(value)
            elif name == "session_lifetime_s":
                fields[name] = float(value)
            elif name == "max_retries":
                fields[name] = int(value)
            else:
                raise KeyError(name)
        except KeyError:
            raise ValueError(f"unknown large-file setting {name!r}; known: enabled, min_size, max_size, "
                             "part_size, session_lifetime_s, max_retries") from None
        except ValueError:
            raise ValueError(f"invalid value for {name}: {value!r}") from None
    return LargeFileSettings(**fields)


def _size(text: str) -> int:
    digits = text.rstrip("kKmMgGiIbB")
    unit = text[len(digits):].lower()
    if unit not in SIZE_UNITS or not digits.strip().isdigit():
        raise ValueError(text)
    return int(digits) * SIZE_UNITS[unit]


@dataclass
class UploadSession:
    key: str
    username: str
    file_name: str
    file_size: int
    mime_type: str
    part_size: int
    num_parts: int
    started: float
    parts: dict[int, Upload] = field(default_factory=dict)
    assembled: Upload | None = None
    """The whole file once the session is complete; taken by the create or add-version call."""
    expired: bool = False

    @property
    def status(self) -> str:
        return "expired" if self.expired else "complete" if self.assembled is not None else "open"

    def part_length(self, number: int) -> int:
        return self.part_size if number < self.num_parts else self.file_size - self.part_size * (self.num_parts - 1)

    def discard(self) -> None:
        for upload in self.parts.values():
            upload.discard()
        self.parts.clear()
        if self.assembled is not None:
            self.assembled.discard()
            self.assembled = None

    def as_json(self) -> dict[str, Any]:
        """For /admin/state."""
        return {"upload_key": self.key, "file_name": self.file_name, "file_size": self.file_size,
                "num_parts": self.num_parts, "status": self.status,
                "parts_received": list(range(1, self.num_parts + 1)) if self.assembled else sorted(self.parts)}


def start(state: OpenTextState, username: str, fields: Mapping[str, Any]) -> UploadSession:
    """POST /v2/multipart (``file_name``, ``file_size``, ``mime_type``)."""
    settings = state.large_files
    if not settings.enabled:
        raise ApiError(400, "Large File Upload is not enabled on this server.")
    file_name, mime_type = (str(fields.get(k) or "").strip() for k in ("file_name", "mime_type"))
    for name, value in (("file_name", file_name), ("mime_type", mime_type)):
        if not value:
            raise ApiError(400, f"Missing required parameter '{name}'")
    raw_size = fields.get("file_size")
    if raw_size in (None, ""):
        raise ApiError(400, "Missing required parameter 'file_size'")
    try:
        file_size = int(raw_size)
    except (TypeError, ValueError):
        raise ApiError(400, "Pattern of argument was not recognized.") from None
    if not settings.min_size <= file_size <= settings.max_size:
        raise ApiError(500, f"Invalid block size: File size must be between {settings.min_size} and "
                            f"{settings.max_size} bytes.")
    sweep(state)
    session = UploadSession(secrets.token_hex(16), username, file_name, file_size, mime_type, settings.part_size,
                            math.ceil(file_size / settings.part_size), state.clock())
    state.uploads[session.key] = session
    return session


def start_json(session: UploadSession, settings: LargeFileSettings) -> dict[str, Any]:
    return {"upload_key": session.key, "num_parts": session.num_parts, "part_size": session.part_size,
            "max_retries": settings.max_retries}


def receive_part(state: OpenTextState, username: str, key: str, number_text: str, upload: Upload | None) -> None:
    """POST /v2/multipart/{key}/{n} with ``part_content`` already streamed to disk. On success the
    session owns ``upload``; on an error the caller discards it."""
    session = _live(state, username, key)
    if not number_text.isdigit():
        raise ApiError(400, "Pattern of argument was not recognized.")
    number = int(number_text)
    if not 1 <= number <= session.num_parts:
        raise ApiError(500, f"Invalid BlockID: Expected BlockID between 1 and {session.num_parts}")
    if number in session.parts or session.assembled is not None:
        raise ApiError(500, f"Invalid BlockID: BlockID {number} has already been uploaded.")
    if upload is None:
        raise ApiError(400, "Missing required parameter 'part_content'")
    upload.finish()
    expected = session.part_length(number)
    if upload.size != expected:
        raise ApiError(500, f"Invalid block size: part {number} of {session.num_parts} must have {expected} bytes, "
                            f"it has {upload.size}.")
    session.parts[number] = upload


def complete(state: OpenTextState, username: str, key: str) -> UploadSession:
    """POST /v2/multipart/{key}: the parts, in order, become one upload (streamed, chunk by chunk)."""
    session = _live(state, username, key)
    if session.assembled is not None or not session.parts:
        raise ApiError(500, CANNOT_CLOSE)
    missing = [n for n in range(1, session.num_parts + 1) if n not in session.parts]
    if missing:
        raise ApiError(500, f"Invalid status. Cannot close the upload: {len(missing)} of {session.num_parts} "
                            f"parts have not been uploaded (first missing: {missing[0]}).")
    whole = state.content.begin(session.file_name, session.mime_type)
    try:
        for number in range(1, session.num_parts + 1):
            with session.parts[number].path.open("rb") as part:
                while chunk := part.read(CHUNK_SIZE):
                    whole.write(chunk)
        whole.finish()
    except BaseException:
        whole.discard()
        raise
    if whole.size != session.file_size:
        whole.discard()
        raise ApiError(500, f"Invalid block size: the parts hold {whole.size} bytes, the session declared "
                            f"{session.file_size}.")
    for upload in session.parts.values():
        upload.discard()
    session.parts.clear()
    session.assembled = whole
    return session


def cancel(state: OpenTextState, username: str, key: str) -> None:
    """DELETE /v2/multipart/{key}: the session and whatever it received are gone (also when expired)."""
    session = state.uploads.get(key)
    if session is None or session.username != username:
        raise ApiError(500, INVALID_KEY)
    session.discard()
    del state.uploads[key]


def assembled(state: OpenTextState, username: str, key: Any) -> Upload:
    """The file of a complete session, for the call that takes it by ``upload_key``; it stays the
    session's until :func:`used` (a call that fails leaves the key usable)."""
    session = state.uploads.get(str(key))
    if session is None or session.username != username or _expire(state, session) or session.assembled is None:
        raise ApiError(400, FILE_NOT_FOUND)
    return session.assembled


def used(state: OpenTextState, key: Any) -> None:
    """The upload was stored as a version: the key is used up."""
    state.uploads.pop(str(key), None)


def sweep(state: OpenTextState) -> None:
    """Free the parts of every session that has expired (the session keeps answering "expired")."""
    for session in state.uploads.values():
        _expire(state, session)


def _live(state: OpenTextState, username: str, key: str) -> UploadSession:
    session = state.uploads.get(key)
    if session is None or session.username != username:
        raise ApiError(500, INVALID_KEY)
    if _expire(state, session):
        raise ApiError(500, EXPIRED)
    return session


def _expire(state: OpenTextState, session: UploadSession) -> bool:
    if not session.expired and state.clock() - session.started > state.large_files.session_lifetime_s:
        session.expired = True
        session.discard()
    return session.expired
