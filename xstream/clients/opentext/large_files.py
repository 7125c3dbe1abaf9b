"""Large File Upload: a file sent in numbered parts, then stored by its ``upload_key``.

Paths (Content Server REST 2.0.2; reference next-wave.md F2 (b)): ``GET /api/v2/multipart/settings``
-> ``{is_enabled, min_size, max_size}``; ``POST /api/v2/multipart`` (form ``file_name``,
``file_size``, ``mime_type``) -> ``{upload_key, num_parts, part_size, max_retries}``;
``POST /api/v2/multipart/{key}/{n}`` (multipart field ``part_content``); ``POST
/api/v2/multipart/{key}`` completes; ``DELETE`` on it cancels. The key then stands in for the file
of ``POST /api/v2/nodes`` or ``POST /api/v2/nodes/{id}/versions`` (see :mod:`.documents`).

What each failure means here (the messages are Content Server's, read in one place, below):

- a part whose answer was lost (:class:`~xstream.errors.AnswerLost`) or that failed retriably (5xx,
  a timeout, 503 with Retry-After, honoured) is sent again, as often as the session's
  ``max_retries`` allows; "BlockID n has already been uploaded" means an earlier attempt arrived,
  so the part is done;
- completing likewise; after an attempt that may have arrived, "Cannot close an empty or already
  closed upload" means it did;
- "Multipart Upload session expired" ends the session: the caller starts over with a new one
  (:class:`SessionExpired`);
- anything else (a refusal, the retries used up, the body failing or not matching its declared
  size or checksum, which :func:`xstream.content.verified` checks while it streams) cancels the
  session, best effort (an abandoned session expires on the server anyway), and is raised.

Memory: the body is cut into parts as it streams; one part is held (it must be, to be sent again)
and goes out in slices, so an upload of any size costs about one ``part_size``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from xstream.clients.opentext.base import ClientBase, shape
from xstream.clients.opentext.models import LargeFileSettings
from xstream.clients.opentext.transport import TARGET, Multipart, UploadSourceError
from xstream.content import Body, ContentInfo, Digest, verified
from xstream.errors import AnswerLost, SinkBackpressure, SinkError, SinkRejected

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 3
"""Resends per part when the start answer names no ``max_retries``."""
SLICE = 256 * 1024
"""A held part goes out in slices of this size (each copied once on its way to the socket)."""
MAX_PAUSE_S = 30.0
"""Longest wait before a resend (a Retry-After above it is cut to it)."""

# Content Server's messages, compared in lower case (spec 2.0.2, /v2/multipart and /v2/nodes).
ALREADY_UPLOADED = "has already been uploaded"
SESSION_EXPIRED = "upload session expired"
ALREADY_CLOSED = "cannot close an empty or already closed upload"
KEY_USED_UP = "could not be found within the upload directory"
"""400 to a create or add-version whose ``upload_key`` is unknown, incomplete, expired or already used."""


def says(exc: SinkError, fragment: str) -> bool:
    """Whether Content Server's error message (part of the classified error's text) contains ``fragment``."""
    return fragment in str(exc).lower()


class SessionExpired(Exception):  # noqa: N818 - a signal to start over, raised and caught inside the client
    """The session ended before the upload did; the upload must start again with a new one."""


@dataclass(frozen=True)
class Session:
    key: str
    num_parts: int
    part_size: int
    max_retries: int


@dataclass(frozen=True)
class Staged:
    """A completed session: the key to store it by, and what was sent."""

    key: str
    info: ContentInfo
    size: int
    sha256: str


class LargeFilesApi(ClientBase):
    _large_file_settings: LargeFileSettings | None

    async def large_file_settings(self) -> LargeFileSettings:
        """The server's Large File Upload settings, asked once per client (an administrator changes
        them rarely; a new worker asks again). A release without the API (400 "could not be found in
        the mappings registry", 404) has it disabled; an outage is raised and nothing is cached."""
        cached = self._large_file_settings
        if cached is not None:
            return cached
        try:
            payload = await self._call("multipart.settings", "GET", "/api/v2/multipart/settings")
        except SinkRejected as exc:
            log.info("opentext: no Large File Upload on this server (%s); every upload goes in one request", exc)
            settings = LargeFileSettings()
        else:
            settings = shape("multipart.settings", lambda: LargeFileSettings.model_validate(unwrapped(payload)))
        self._large_file_settings = settings
        return settings

    async def _stage(self, body: Body) -> Staged:
        """Start a session for ``body``, send its parts, complete it; on any failure cancel it and raise
        (:class:`SessionExpired` when the session expired)."""
        info = body.info
        session = await self._start_session(info)
        try:
            digest = await self._send_parts(session, body)
            await self._resending("multipart.complete", session,
                                  lambda: self._call("multipart.complete", "POST", f"/api/v2/multipart/{session.key}"),
                                  done=lambda exc, resent: resent and says(exc, ALREADY_CLOSED))
        except Exception:
            await self._cancel_quietly(session.key)
            raise
        return Staged(session.key, info, digest.size, digest.sha256)

    async def _start_session(self, info: ContentInfo) -> Session:
        fields = {"file_name": info.name or "file", "file_size": str(info.size),
                  "mime_type": info.media_type or "application/octet-stream"}
        payload = await self._call("multipart.start", "POST", "/api/v2/multipart", data=fields)

        def read() -> Session:
            raw = unwrapped(payload)
            retries = raw.get("max_retries")
            session = Session(str(raw["upload_key"]), int(raw["num_parts"]), int(raw["part_size"]),
                              DEFAULT_MAX_RETRIES if retries is None else int(retries))
            if not session.key or session.part_size < 1:
                raise ValueError(f"upload_key {session.key!r}, part_size {session.part_size}")
            return session

        return shape("multipart.start", read)

    async def _send_parts(self, session: Session, body: Body) -> Digest:
        """The body cut into ``part_size`` parts as it streams, each sent once it is full (the last
        once the body has ended and :func:`verified` has checked its size and checksum)."""
        digest = Digest()
        number = 0
        part = bytearray()
        async with aclosing(_body_chunks(verified(body.chunks(), body.info, digest))) as chunks:
            async for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    room = session.part_size - len(part)
                    part += view[:room]
                    view = view[room:]
                    if len(part) == session.part_size:
                        number += 1
                        await self._send_part(session, number, part)
                        part = bytearray()
        if part or number == 0:
            await self._send_part(session, number + 1, part)
        return digest

    async def _send_part(self, session: Session, number: int, part: bytearray) -> None:
        def source() -> AsyncIterator[bytes]:
            return _slices(part)

        async def send() -> Any:
            upload = Multipart(fields={}, source=source, filename=f"part-{number}", size=len(part),
                               file_field="part_content")
            return await self._call("multipart.part", "POST", f"/api/v2/multipart/{session.key}/{number}", data=upload)

        await self._resending("multipart.part", session, send, done=lambda exc, resent: says(exc, ALREADY_UPLOADED))

    async def _resending(self, operation: str, session: Session, send: Callable[[], Awaitable[Any]], *,
                         done: Callable[[SinkError, bool], bool]) -> None:
        """``send()`` until it is answered, or ``done(error, resent)`` says an earlier attempt arrived;
        a retriable failure is sent again up to ``max_retries`` times; an expired session raises
        :class:`SessionExpired`; every other error is raised."""
        failures = 0
        while True:
            try:
                await send()
                return
            except SinkError as exc:
                if done(exc, failures > 0):
                    return
                if says(exc, SESSION_EXPIRED):
                    raise SessionExpired(str(exc)) from exc
                if not exc.retriable or failures >= session.max_retries:
                    raise
                failures += 1
                log.info("opentext: %s failed (%s); sending it again (%d of %d)", operation, exc, failures,
                         session.max_retries)
                await asyncio.sleep(pause_s(exc, failures))

    async def _cancel_quietly(self, key: str) -> None:
        try:
            await self._call("multipart.cancel", "DELETE", f"/api/v2/multipart/{key}")
        except SinkError as exc:
            log.info("opentext: could not cancel upload session %s (it expires by itself): %s", key, exc)


def pause_s(exc: SinkError, failures: int) -> float:
    """How long to wait before a resend: the server's Retry-After; nothing after a lost answer (the
    server is up, the answer was lost on the way); else a short, growing pause."""
    if isinstance(exc, SinkBackpressure):
        return min(exc.retry_after, MAX_PAUSE_S)
    if isinstance(exc, AnswerLost):
        return 0.0
    return min(0.1 * 2.0 ** (failures - 1), 2.0)


def unwrapped(payload: Any) -> Mapping[str, Any]:
    """The spec answers the settings and the start as plain objects; a release that wraps them in
    ``results`` (as the other v2 calls) is read the same."""
    results = payload.get("results") if isinstance(payload, Mapping) else None
    inner = results if isinstance(results, Mapping) and results else payload
    if not isinstance(inner, Mapping):
        raise TypeError(f"expected an object, got {type(inner).__name__}")
    return inner


async def _slices(part: bytearray) -> AsyncIterator[bytes]:
    view = memoryview(part)
    for start in range(0, len(part), SLICE):
        yield bytes(view[start:start + SLICE])


async def _body_chunks(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The body's chunks; its failure (a broken source, a size or checksum that does not match) is
    an UploadSourceError, as in a one-request upload."""
    try:
        async for chunk in chunks:
            yield chunk
    except Exception as exc:
        raise UploadSourceError(f"multipart.part: the upload source failed: {exc}", target=TARGET) from exc
