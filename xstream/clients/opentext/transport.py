"""The one request path of the OpenText client: encodings and streaming on xstream's HTTP boundary.

Every call goes through :meth:`Transport.call` (JSON answers) or :meth:`Transport.open` (streamed
answers, e.g. downloads). Both run under :func:`xstream.http.auth.with_credential` (the credential
sent, a 401 re-authenticates once, single flight, and repeats the call once) on the one session of
:mod:`xstream.http.session`, and classify the answer with :func:`xstream.http.status.classify` in
Content Server's dialect (:data:`~xstream.http.status.CONTENT_SERVER`). OpenText errors name the
target ``opentext``.

Request bodies come in the three shapes Content Server accepts (reference/opentext-api.md 0):

- a flat form (``Mapping[str, str]``, sent urlencoded) where the API expects flat fields;
- :func:`json_body` -> ``{"body": "<JSON>"}`` (urlencoded) for nested payloads;
- :class:`Multipart` when a file goes up: form fields plus one file part streamed from an async
  byte source. A streamed body cannot be replayed, so a multipart body holds a zero-argument
  *factory* of the source and calls it once per attempt: the one repeat after a 401 re-opens the
  source (a file is simply read again). A source that cannot be re-opened must raise on the second
  call; that error then propagates.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import aiohttp
import orjson
from aiohttp.payload import AsyncIterablePayload, StringPayload

from xstream.errors import SinkRejected
from xstream.http.auth import Authenticator, ClientCredentials, Sender, TicketAuth, with_credential
from xstream.http.errors import transport_errors
from xstream.http.session import HttpSession
from xstream.http.status import CONTENT_SERVER, classify
from xstream.settings import OpenTextSettings

TARGET = "opentext"

Params: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
ByteSource: TypeAlias = Callable[[], AsyncIterable[bytes]]
"""A zero-argument factory returning a fresh async iterable of the bytes to upload."""

ERROR_BODY_LIMIT = 64 * 1024


class UploadSourceError(SinkRejected):
    """The byte source of an upload failed or yielded a different number of bytes than declared.

    Not retriable: the request was cut off, so the server stored nothing, but the same source
    would fail the same way. The source's own exception is the ``__cause__``.
    """


def json_body(payload: Any) -> dict[str, str]:
    """Nested payloads go as one form field ``body`` holding JSON (every Content Server accepts it)."""
    return {"body": orjson.dumps(payload).decode()}


@dataclass
class SentFile:
    """What one attempt of a multipart upload actually sent (counted while streaming)."""

    size: int = 0
    sha256: str = ""


@dataclass
class Multipart:
    """``multipart/form-data``: text fields, then one file part streamed from ``source()``."""

    fields: Mapping[str, str]
    source: ByteSource
    filename: str
    content_type: str = "application/octet-stream"
    size: int | None = None
    """Declared length: sent as Content-Length (some front ends refuse chunked uploads); checked."""
    file_field: str = "file"
    sent: SentFile | None = field(default=None, init=False)

    def build(self, progress: Callable[[], None] = lambda: None) -> aiohttp.MultipartWriter:
        """A fresh writer over a freshly opened source; ``progress()`` is called as each chunk goes out."""
        writer = aiohttp.MultipartWriter("form-data")
        for name, value in self.fields.items():
            part = writer.append_payload(StringPayload(value))
            part.set_content_disposition("form-data", name=name)
            part.headers.pop("Content-Type", None)  # plain fields as browsers and requests send them
        self.sent = SentFile()
        payload = _SourcePayload(_checked(self.source(), self.size, self.sent, progress), self.size,
                                 content_type=self.content_type)
        file_part = writer.append_payload(payload)
        file_part.set_content_disposition("form-data", quote_fields=False, name=self.file_field,
                                          filename=_header_safe(self.filename))
        return writer


class _SourcePayload(AsyncIterablePayload):
    """Streams the source chunk by chunk (never all of it in memory), counting and hashing as it goes."""

    def __init__(self, chunks: AsyncIterable[bytes], size: int | None, **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self._size = size


class _SourceFailed(Exception):
    pass


async def _checked(chunks: AsyncIterable[bytes], size: int | None, sent: SentFile,
                   progress: Callable[[], None]) -> AsyncIterator[bytes]:
    digest = hashlib.sha256()
    count = 0
    try:
        async for chunk in chunks:
            count += len(chunk)
            if size is not None and count > size:
                raise ValueError(f"the source yielded more than the declared {size} bytes")
            digest.update(chunk)
            progress()
            yield bytes(chunk)
    except Exception as exc:
        raise _SourceFailed(str(exc)) from exc
    if size is not None and count != size:
        raise _SourceFailed(f"the source yielded {count} bytes, {size} declared")
    sent.size, sent.sha256 = count, digest.hexdigest()
    progress()


def _header_safe(name: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "_", name)


def _source_failure(exc: BaseException) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _SourceFailed):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


Body: TypeAlias = Mapping[str, str] | Multipart | None


class Transport:
    def __init__(self, settings: OpenTextSettings, *, session: aiohttp.ClientSession | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.base = str(settings.base_url).rstrip("/")
        self.session = HttpSession(TARGET, limit=settings.max_connections, request_timeout_s=settings.request_timeout_s,
                                   connect_timeout_s=settings.connect_timeout_s, session=session)
        self.auth: Authenticator = _authenticator(settings, self.base, self.session.send, clock)

    async def close(self) -> None:
        await self.session.close()

    # --- JSON calls ---------------------------------------------------------------------------------

    async def call(self, operation: str, method: str, path: str, *, params: Params | None = None,
                   data: Body = None) -> Any:
        """Send an authenticated request and return the decoded JSON of a 2xx answer."""
        async def attempt(headers: dict[str, str], generation: int) -> Any:
            response = await self._start(operation, method, path, params, data, headers)
            try:
                async with transport_errors(TARGET, operation):
                    body = await response.read()
            finally:
                response.release()
            return self._outcome(operation, response, body, generation)

        return await with_credential(self.auth, TARGET, operation, attempt)

    async def _start(self, operation: str, method: str, path: str, params: Params | None,
                     data: Body, headers: dict[str, str]) -> aiohttp.ClientResponse:
        try:
            async with transport_errors(TARGET, operation):
                if not isinstance(data, Multipart):
                    return await self.session.get().request(method, self.base + path, params=params, data=data,
                                                            headers=headers)
                # An upload has no total timeout (it may be large); instead it fails when no chunk
                # could be sent for request_timeout_s (a stalled server stops reading and the write
                # blocks, which no read timeout notices) or no answer comes that long after the last.
                stall_s = self.settings.request_timeout_s
                loop = asyncio.get_running_loop()
                async with asyncio.timeout_at(loop.time() + stall_s) as deadline:
                    writer = data.build(lambda: deadline.reschedule(loop.time() + stall_s))
                    # Connection: close -- a server may answer (401, 413, 500) before it has read the
                    # whole upload; such a connection must never be reused from the pool.
                    return await self.session.get().request(method, self.base + path, params=params, data=writer,
                                                            headers=headers | {"Connection": "close"},
                                                            timeout=self.session.streaming_timeout)
        except Exception as exc:
            failed = _source_failure(exc)
            if failed is not None:
                raise UploadSourceError(f"{operation}: the upload source failed: {failed}", target=TARGET) \
                    from (failed.__cause__ or failed)
            raise

    def _outcome(self, operation: str, response: aiohttp.ClientResponse, body: bytes, generation: int) -> Any:
        if response.status != 401:
            self.auth.adopt(response.headers, generation)
        return classify(TARGET, operation, response.status, response.headers, body, policy=CONTENT_SERVER)

    # --- streamed answers ---------------------------------------------------------------------------

    @asynccontextmanager
    async def open(self, operation: str, method: str, path: str, *,
                   params: Params | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """An authenticated 2xx response whose body is not read yet (read it in chunks).

        Errors are classified exactly as for :meth:`call` (the error body is read, bounded); a 401
        re-authenticates once. The response is released when the block ends.
        """
        async def attempt(headers: dict[str, str], generation: int) -> aiohttp.ClientResponse:
            async with transport_errors(TARGET, operation):
                response = await self.session.get().request(method, self.base + path, params=params,
                                                            headers=headers, timeout=self.session.streaming_timeout)
            if 200 <= response.status < 300:
                self.auth.adopt(response.headers, generation)
                return response
            try:
                async with transport_errors(TARGET, operation):
                    body = await _read_bounded(response, ERROR_BODY_LIMIT)
            finally:
                response.release()
            self._outcome(operation, response, body, generation)  # not a 2xx: raises the classified error
            raise AssertionError(f"{operation}: HTTP {response.status} left unclassified")  # pragma: no cover

        response = await with_credential(self.auth, TARGET, operation, attempt)
        try:
            yield response
        finally:
            response.release()


def _authenticator(settings: OpenTextSettings, base: str, send: Sender,
                   clock: Callable[[], float] = time.monotonic) -> Authenticator:
    """A ticket login, or OTDS client credentials when ``settings.uses_otds``."""
    if not settings.uses_otds:
        return TicketAuth(TARGET, send, url=f"{base}/api/v1/auth", username=settings.username,
                          password=settings.password)
    assert settings.otds_url is not None and settings.otds_client_id is not None  # uses_otds: all three given
    assert settings.otds_client_secret is not None
    return ClientCredentials(TARGET, send, token_url=str(settings.otds_url).rstrip("/") + "/otdsws/oauth2/token",
                             client_id=settings.otds_client_id, client_secret=settings.otds_client_secret,
                             operation="otds.token", clock=clock)


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body up to ``limit`` bytes (an error page of a streamed call is never read whole)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)
