"""Document bodies: async byte streams with their size and media type, checked while they stream.

A body never travels through Kafka and is never whole in memory: a :class:`ContentSource` (the
source system's attachment API, OpenText's download) opens it as a :class:`Body` whose chunks
flow to a :class:`ContentSink` (OpenText's upload, the source's attachment upload). On the way,
:func:`verified` counts the bytes and computes the sha256 (and the source's own checksum, e.g.
Salesforce's MD5), so a body larger than declared stops at once and a checksum that does not match
fails at the end, before anything is acknowledged. Pure: no I/O here, the ports are Protocols.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from xstream.errors import XStreamError

ChecksumAlgorithm = Literal["sha256", "md5", "sha1"]


class ContentMismatch(XStreamError):
    """A body that is not what its source declared: more bytes than its size, fewer, or another checksum."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Checksum:
    algorithm: ChecksumAlgorithm
    hex: str


@dataclass(frozen=True)
class ContentInfo:
    name: str
    media_type: str
    size: int | None
    """Declared size in bytes, when the source says (checked while streaming)."""
    checksum: Checksum | None = None
    """The source's own checksum, when it has one (checked at the end)."""


class Body(Protocol):
    """An open document body: read its chunks once."""

    @property
    def info(self) -> ContentInfo: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


BodyOpener: TypeAlias = Callable[[], AbstractAsyncContextManager[Body]]
"""Opens a body from its start, each time it is called (``functools.partial(source.open, ref)``).

A sink that may have to read a body twice takes an opener, not a body: a body streams once, but an
upload may need to start again (a Large File Upload session that expired, the one repeat of a
request after a fresh login), and each opening is a context of its own, so whatever it holds (a
connection to the source system, a file) is released when that attempt ends, however it ends."""


class ContentSource(Protocol):
    def open(self, ref: str) -> AbstractAsyncContextManager[Body]:
        """The body the source names ``ref`` (an attachment id, a node id), streamed."""


@dataclass(frozen=True)
class Stored:
    """What a sink stored: where, and the size and sha256 of the bytes it received."""

    ref: str
    size: int
    sha256: str
    version: int | None = None


class ContentSink(Protocol):
    async def store(self, body: Body, *, where: str) -> Stored:
        """Stream ``body`` into the target (``where``: a folder id, a record); bounded memory."""


@dataclass
class Digest:
    """Filled in while a body streams through :func:`verified`."""

    size: int = 0
    sha256: str = ""
    source_checksum: str | None = None


async def verified(chunks: AsyncIterator[bytes], info: ContentInfo, digest: Digest) -> AsyncIterator[bytes]:
    """The chunks, checked against ``info`` as they pass: more bytes than declared stop at once, fewer or
    another checksum raise at the end (after the last chunk, before the sink's answer is trusted)."""
    hashes = {"sha256": hashlib.sha256()}
    if info.checksum is not None and info.checksum.algorithm != "sha256":
        hashes[info.checksum.algorithm] = hashlib.new(info.checksum.algorithm)
    async for chunk in chunks:
        digest.size += len(chunk)
        if info.size is not None and digest.size > info.size:
            raise ContentMismatch(f"{info.name}: more than the declared {info.size} bytes")
        for hashed in hashes.values():
            hashed.update(chunk)
        yield chunk
    digest.sha256 = hashes["sha256"].hexdigest()
    if info.size is not None and digest.size != info.size:
        raise ContentMismatch(f"{info.name}: {digest.size} bytes, {info.size} declared")
    if info.checksum is not None:
        got = hashes[info.checksum.algorithm].hexdigest()
        digest.source_checksum = got
        if got.lower() != info.checksum.hex.lower():
            raise ContentMismatch(f"{info.name}: {info.checksum.algorithm} {got}, the source says {info.checksum.hex}")
