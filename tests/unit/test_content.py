"""Bodies are checked while they stream: size and the source's checksum, sha256 computed on the way."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from xstream.content import Checksum, ContentInfo, ContentMismatch, Digest, verified


async def chunks_of(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def drain(data: bytes, info: ContentInfo) -> tuple[bytes, Digest]:
    digest, out = Digest(), b""
    async for chunk in verified(chunks_of(data), info, digest):
        out += chunk
    return out, digest


async def test_a_body_that_is_what_it_says_streams_through_with_its_digest() -> None:
    data = b"%PDF-1.7 " + bytes(range(256)) * 10
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - the source's (Salesforce's) checksum
    out, digest = await drain(data, ContentInfo("po.pdf", "application/pdf", len(data), Checksum("md5", md5)))
    assert out == data and digest.size == len(data) and digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.source_checksum == md5


async def test_more_bytes_than_declared_stop_at_once() -> None:
    seen: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            seen.append(1)
            yield b"x" * 100

    with pytest.raises(ContentMismatch, match="more than the declared 250 bytes"):
        async for _ in verified(endless(), ContentInfo("a", "text/plain", 250), Digest()):
            pass
    assert len(seen) == 3


@pytest.mark.parametrize(("info", "message"), [
    (ContentInfo("a", "text/plain", 10), "9 bytes, 10 declared"),
    (ContentInfo("a", "text/plain", 9, Checksum("sha256", "00" * 32)), "the source says"),
])
async def test_fewer_bytes_or_another_checksum_fail_at_the_end(info: ContentInfo, message: str) -> None:
    with pytest.raises(ContentMismatch, match=message):
        await drain(b"123456789", info)
