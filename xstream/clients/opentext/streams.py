"""Async byte sources and sinks on local files, read and written in chunks (bounded memory).

File I/O runs in a worker thread (``asyncio.to_thread``) so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path

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
