"""Attachments delivered by reference, served at ``/blobs/{id}``: headers, ranges, the optional bearer token."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from xstream_emulators.intake import (
    IntakeEmulatorConfig,
    RunningIntakeEmulator,
    pseudo_random_bytes,
    start_intake_emulator,
)

from tests.unit.emulators_intake.conftest import INLINE_LIMIT, Intake

SIZE = INLINE_LIMIT + 1000
DATA = pseudo_random_bytes("report.pdf", SIZE)


async def blob_url(intake: Intake) -> str:
    answer = await intake.mail(attachments=[{"name": "report.pdf", "media_type": "application/pdf", "size": SIZE}])
    return str(answer["attachments"][0]["url"])


async def test_a_blob_is_served_with_its_type_length_and_sha256_etag(intake: Intake) -> None:
    url = await blob_url(intake)
    async with intake.http.get(url) as r:
        assert r.status == 200 and await r.read() == DATA
        assert (r.content_type, r.headers["Content-Length"], r.headers["Accept-Ranges"]) == (
            "application/pdf", str(SIZE), "bytes")
        etag = r.headers["ETag"]
    assert etag == f'"{hashlib.sha256(DATA).hexdigest()}"'
    async with intake.http.head(url) as r:
        assert (r.status, r.headers["Content-Length"]) == (200, str(SIZE))
    async with intake.http.get(url, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    assert (await intake.admin("GET", "state")).body["blob_downloads"] == 1


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, SIZE - 1), ("bytes=-10", SIZE - 10, SIZE - 1),
    (f"bytes=10-{SIZE + 50}", 10, SIZE - 1)])
async def test_a_single_range_is_206(intake: Intake, header: str, first: int, last: int) -> None:
    async with intake.http.get(await blob_url(intake), headers={"Range": header}) as r:
        assert r.status == 206 and await r.read() == DATA[first:last + 1]
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{SIZE}"


async def test_an_unsatisfiable_range_is_416_and_several_ranges_get_the_whole_body(intake: Intake) -> None:
    url = await blob_url(intake)
    async with intake.http.get(url, headers={"Range": f"bytes={SIZE}-"}) as r:
        assert (r.status, r.headers["Content-Range"]) == (416, f"bytes */{SIZE}")
        assert (await r.json())["error"]["code"] == "range_not_satisfiable"
    async with intake.http.get(url, headers={"Range": "bytes=0-1,5-6"}) as r:
        assert r.status == 200 and await r.read() == DATA


async def test_an_unknown_blob_is_a_typed_404(intake: Intake) -> None:
    async with intake.http.get(f"{intake.emu.url}/blobs/nope") as r:
        assert (r.status, (await r.json())["error"]["code"]) == (404, "not_found")


@pytest.fixture
async def guarded() -> AsyncIterator[RunningIntakeEmulator]:
    async with await start_intake_emulator(IntakeEmulatorConfig(inline_limit=INLINE_LIMIT,
                                                                blob_token="share-token")) as emu:
        yield emu


async def test_with_a_blob_token_only_its_bearer_may_read(http: aiohttp.ClientSession,
                                                          guarded: RunningIntakeEmulator) -> None:
    url = await blob_url(Intake(http, guarded))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "share-token"}):
        async with http.get(url, headers=headers) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (401, "unauthorized")
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    async with http.get(f"{guarded.url}/blobs/nope") as r:
        assert r.status == 401  # the token first: no probing for ids
    async with http.get(url, headers={"Authorization": "Bearer share-token"}) as r:
        assert r.status == 200 and await r.read() == DATA
