"""Streamed request bodies and streamed answers on the one HTTP boundary.

A document body is never whole in memory, on the way out or in:

- :class:`Upload` is one attempt's streamed request body: the raw bytes, or multipart/form-data whose
  leading parts are small (JSON, text) and whose last part is the bytes. :func:`send_upload` sends it
  with no total timeout (a large file may take long) but fails when no chunk could be written for
  ``stall_s`` (a stalled server stops reading and the write blocks, which no read timeout notices) or
  no answer comes that long after the last chunk, always with ``Connection: close`` (a server may
  answer before it read everything; that connection is never reused). A body is read once: if it
  fails while streaming, its own error surfaces (a ContentMismatch, or the AnswerLost of the download
  it comes from), not the broken request it caused; anything else from it is :class:`BodySourceFailed`.
- :func:`upload_with_credential`: one upload attempt under an :class:`~xstream.http.auth.Authenticator`.
  The body cannot be sent twice, so a 401 renews the credential (single flight) and raises a
  retriable SinkUnavailable: the caller's retry opens the body again.
- :func:`open_answer` / :class:`ResponseBody`: a 2xx answer whose body is read in chunks as a
  :class:`xstream.content.Body`; any other status is read (bounded) and classified.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.payload import AsyncIterablePayload, StringPayload

from xstream.content import ContentInfo
from xstream.errors import AuthenticationFailed, SinkRejected, SinkUnavailable, XStreamError
from xstream.http.auth import Authenticator
from xstream.http.errors import transport_errors
from xstream.http.session import HttpSession, RawResponse
from xstream.http.status import PLAIN, StatusPolicy, classify

CHUNK = 256 * 1024
ANSWER_LIMIT = 1024 * 1024
"""The answer to an upload is a small JSON document; more than this is not read."""
ERROR_BODY_LIMIT = 64 * 1024


class BodySourceFailed(SinkRejected):
    """The body being uploaded failed with an error that is not xstream's (its ``__cause__``): the request
    was cut off, the server stored nothing, and the same source would fail the same way."""


@dataclass(frozen=True)
class FormPart:
    """A small leading part of a multipart upload (JSON, text)."""

    name: str
    value: str
    content_type: str | None = None


@dataclass
class Upload:
    """One attempt's streamed body: ``chunks`` once, ``size`` declared (sent as Content-Length, checked)."""

    chunks: AsyncIterable[bytes]
    size: int | None
    content_type: str
    form: Sequence[FormPart] | None = None
    """Given: multipart/form-data with these parts first, then the bytes as part ``file_field``."""
    file_field: str = "file"
    filename: str | None = None
    sent: int = field(default=0, init=False)
    failure: BaseException | None = field(default=None, init=False)

    def data(self, progress: Callable[[], None]) -> aiohttp.payload.Payload | aiohttp.MultipartWriter:
        payload = _Sized(self._counted(progress), self.size, content_type=self.content_type)
        if self.form is None:
            return payload
        writer = aiohttp.MultipartWriter("form-data")
        for part in self.form:
            appended = writer.append_payload(StringPayload(part.value, content_type=part.content_type or "text/plain"))
            appended.set_content_disposition("form-data", name=part.name)
            if part.content_type is None:
                appended.headers.pop("Content-Type", None)
        file_part = writer.append_payload(payload)
        file_part.set_content_disposition("form-data", quote_fields=False, name=self.file_field,
                                          **({"filename": _header_safe(self.filename)} if self.filename else {}))
        return writer

    async def _counted(self, progress: Callable[[], None]) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.chunks:
                self.sent += len(chunk)
                if self.size is not None and self.sent > self.size:
                    raise BodySourceFailed(f"the body yielded more than the declared {self.size} bytes")
                progress()
                yield bytes(chunk)
        except Exception as exc:
            self.failure = exc
            raise
        if self.size is not None and self.sent != self.size:
            self.failure = BodySourceFailed(f"the body yielded {self.sent} bytes, {self.size} declared")
            raise self.failure
        progress()


class _Sized(AsyncIterablePayload):
    """An async iterable payload whose declared size goes out as Content-Length."""

    def __init__(self, chunks: AsyncIterable[bytes], size: int | None, **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self._size = size


async def send_upload(session: HttpSession, operation: str, method: str, url: str, upload: Upload, *,
                      headers: Mapping[str, str], params: Any = None, stall_s: float) -> RawResponse:
    """Stream ``upload`` and read the (small) answer; transport failures classified, the status not looked at."""
    loop = asyncio.get_running_loop()
    try:
        async with transport_errors(session.target, operation), \
                asyncio.timeout_at(loop.time() + stall_s) as deadline:
            data = upload.data(lambda: deadline.reschedule(loop.time() + stall_s))
            async with session.get().request(method, url, params=params, data=data,
                                             headers=dict(headers) | {"Connection": "close"},
                                             timeout=session.streaming_timeout) as response:
                return response.status, response.headers, await read_bounded(response, ANSWER_LIMIT)
    except Exception as exc:
        failure = upload.failure
        if failure is None:
            raise
        if isinstance(failure, XStreamError):
            raise failure from exc
        raise BodySourceFailed(f"{operation}: the body failed while it was sent: {failure}",
                               target=session.target) from failure


async def upload_with_credential(auth: Authenticator, session: HttpSession, operation: str, method: str, url: str,
                                 upload: Upload, *, headers: Mapping[str, str], params: Any = None,
                                 stall_s: float) -> RawResponse:
    """One authenticated upload attempt; a 401 renews the credential and asks for a new attempt (retriable)."""
    await auth.ensure()
    generation = auth.generation
    status, got, body = await send_upload(session, operation, method, url, upload,
                                          headers=dict(headers) | auth.headers(), params=params, stall_s=stall_s)
    if status != 401:
        auth.adopt(got, generation)
        return status, got, body
    if not auth.renewable:
        raise AuthenticationFailed(f"{operation}: {session.target} refused our credentials (HTTP 401)", status=401,
                                   target=session.target)
    await auth.refresh(generation)
    raise SinkUnavailable(f"{operation}: {session.target} refused the credential (HTTP 401); it was renewed, "
                          "the upload must be sent again", status=401, target=session.target)


async def open_answer(session: HttpSession, operation: str, method: str, url: str, *, headers: Mapping[str, str],
                      params: Any = None, policy: StatusPolicy = PLAIN) -> aiohttp.ClientResponse:
    """A 2xx response with its body unread (the caller releases it); any other status raises, classified."""
    async with transport_errors(session.target, operation):
        response = await session.get().request(method, url, params=params, headers=headers,
                                                timeout=session.streaming_timeout)
    if 200 <= response.status < 300:
        return response
    try:
        async with transport_errors(session.target, operation):
            body = await read_bounded(response, ERROR_BODY_LIMIT)
    finally:
        response.release()
    classify(session.target, operation, response.status, response.headers, body, policy=policy)
    raise SinkUnavailable(f"{operation}: HTTP {response.status} left unclassified", status=response.status,
                          target=session.target)  # pragma: no cover - classify raises for every non-2xx


class ResponseBody:
    """An open download as a :class:`xstream.content.Body`: ``info`` and the chunks (read once); a broken
    transfer is AnswerLost."""

    def __init__(self, target: str, operation: str, response: aiohttp.ClientResponse, info: ContentInfo,
                 chunk_size: int = CHUNK) -> None:
        self._target = target
        self._operation = operation
        self._response = response
        self._info = info
        self._chunk_size = chunk_size

    @property
    def info(self) -> ContentInfo:
        return self._info

    async def chunks(self) -> AsyncIterator[bytes]:
        async with transport_errors(self._target, self._operation):
            async for chunk in self._response.content.iter_chunked(self._chunk_size):
                yield chunk


def filename_of(response: aiohttp.ClientResponse) -> str | None:
    """The file name of Content-Disposition (``filename*`` preferred), if the server sent one."""
    disposition = response.content_disposition
    return disposition.filename if disposition is not None else None


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body up to ``limit`` bytes (an unexpected large answer is never read whole)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _header_safe(name: str) -> str:
    return "".join("_" if ord(c) < 32 or ord(c) == 127 else c for c in name)
