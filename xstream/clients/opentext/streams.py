"""Async byte sources on local files, read in chunks (bounded memory), and document bodies
(:class:`xstream.content.Body` openers) over files, bytes and byte sources.

File I/O runs in a worker thread (``asyncio.to_thread``) so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from xstream.content import Body, BodyOpener, ContentInfo

CHUNK = 1024 * 1024


def file_source(path: str | Path, *, chunk_size: int = CHUNK) -> Callable[[], AsyncIterable[bytes]]:
    """A re-openable source for uploads: each call reads ``path`` from the start, ``chunk_size`` at a time."""
    file_path = Path(path)

    async def chunks() -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(file_path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    return chunks


async def file_sha256(path: str | Path, *, chunk_size: int = CHUNK) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in file_source(path, chunk_size=chunk_size)():
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


class StreamBody:
    """A :class:`~xstream.content.Body` over a zero-argument source of chunks."""

    def __init__(self, info: ContentInfo, source: Callable[[], AsyncIterable[bytes]]) -> None:
        self._info = info
        self._source = source

    @property
    def info(self) -> ContentInfo:
        return self._info

    def chunks(self) -> AsyncIterator[bytes]:
        return aiter(self._source())


def source_body(source: Callable[[], AsyncIterable[bytes]], info: ContentInfo) -> BodyOpener:
    """An opener of a re-openable byte source (``file_source(path)``, a test's source) with what it is."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[Body]:
        yield StreamBody(info, source)

    return opened


def bytes_body(data: bytes, name: str, media_type: str = "application/octet-stream", *,
               chunk_size: int = CHUNK) -> BodyOpener:
    """An opener of a body held in memory (small documents, tests)."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk_size):
            yield data[start:start + chunk_size]

    return source_body(chunks, ContentInfo(name=name, media_type=media_type, size=len(data)))


def file_body(path: str | Path, *, name: str | None = None, media_type: str | None = None,
              chunk_size: int = CHUNK) -> BodyOpener:
    """An opener of a local file, read in chunks; its size is taken when it is opened, its media type
    guessed from the name unless given."""
    file_path = Path(path)
    shown = name or file_path.name
    kind = media_type or mimetypes.guess_type(shown)[0] or "application/octet-stream"

    @asynccontextmanager
    async def opened() -> AsyncIterator[Body]:
        size = (await asyncio.to_thread(file_path.stat)).st_size
        yield StreamBody(ContentInfo(name=shown, media_type=kind, size=size),
                         file_source(file_path, chunk_size=chunk_size))

    return opened
