"""Documents against the emulator: upsert (upload-or-add-version by name and hash), streamed download, races,
re-login."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from tests.unit.clients.support import BytesSource, admin
from xstream.clients.opentext import OpenTextClient, file_body, file_sha256
from xstream.errors import AlreadyExists, MappingError

ENTERPRISE = 2000
PDF = "application/pdf"


@pytest.fixture
async def folder(client: OpenTextClient) -> int:
    return await client.ensure_folder_path(ENTERPRISE, ["Docs"])


async def upload(client: OpenTextClient, folder: int, name: str, source: BytesSource, *, size: bool = True,
                 **kw: object):
    return await client.upsert_document(folder, name, source.body(name, PDF, sized=size),
                                        size=source.size if size else None, sha256=source.sha256,
                                        **kw)  # type: ignore[arg-type]


async def test_create_then_unchanged_then_version_added(client: OpenTextClient, folder: int, emulator) -> None:
    v1, v2 = BytesSource(b"%PDF one" * 5000), BytesSource(b"%PDF two" * 5000)
    created = await upload(client, folder, "INV-1.pdf", v1)
    unchanged = await upload(client, folder, "INV-1.pdf", v1)
    changed = await upload(client, folder, "INV-1.pdf", v2)
    assert (created.action, created.version_number) == ("created", 1)
    assert (unchanged.action, unchanged.version_number, unchanged.node_id) == ("unchanged", 1, created.node_id)
    assert (changed.action, changed.version_number, changed.node_id) == ("version_added", 2, created.node_id)
    assert v1.opened == 1 and v2.opened == 1  # "unchanged" sent nothing
    node = await client.get_node(created.node_id)
    assert (node.type, node.mime_type, node.size) == (144, PDF, v2.size)
    async with client.open_download(created.node_id) as download:
        body = b"".join([chunk async for chunk in download.chunks(4096)])
    assert body == v2.data and download.filename == "INV-1.pdf" and download.mime_type == PDF


async def test_equal_sizes_are_compared_by_hash_other_sizes_are_not_downloaded(client: OpenTextClient, folder: int,
                                                                               emulator) -> None:
    first = BytesSource(b"A" * 1000)
    same_size = BytesSource(b"B" * 1000)
    other_size = BytesSource(b"C" * 999)
    await upload(client, folder, "x.pdf", first)
    before = _downloads(await admin(emulator, "GET", "calls"))
    assert (await upload(client, folder, "x.pdf", same_size)).action == "version_added"  # equal size: hashed
    assert _downloads(await admin(emulator, "GET", "calls")) == before + 1
    assert (await upload(client, folder, "x.pdf", other_size)).action == "version_added"  # the size tells
    assert _downloads(await admin(emulator, "GET", "calls")) == before + 1
    assert (await upload(client, folder, "x.pdf", other_size)).action == "unchanged"  # equal size: hashed
    assert _downloads(await admin(emulator, "GET", "calls")) == before + 2


async def test_without_a_size_the_hash_decides(client: OpenTextClient, folder: int) -> None:
    source = BytesSource(b"no size" * 100)
    assert (await upload(client, folder, "n.pdf", source, size=False)).action == "created"
    assert (await upload(client, folder, "n.pdf", source, size=False)).action == "unchanged"


def _downloads(calls: dict[str, int]) -> int:
    return sum(count for op, count in calls.items() if op.startswith("content."))


async def test_concurrent_uploads_of_one_new_document_create_it_once(client: OpenTextClient, folder: int) -> None:
    source = BytesSource(b"race" * 10000)
    results = await asyncio.gather(*(upload(client, folder, "race.pdf", source) for _ in range(10)))
    assert sorted(r.action for r in results) == ["created"] + ["unchanged"] * 9
    assert len({r.node_id for r in results}) == 1
    assert [v.version_number for v in await client.versions(results[0].node_id)] == [1]


async def test_a_name_taken_by_a_folder_is_already_exists(client: OpenTextClient, folder: int) -> None:
    await client.create_folder(folder, "taken.pdf")
    with pytest.raises(AlreadyExists, match="taken by a Folder"):
        await upload(client, folder, "taken.pdf", BytesSource(b"x"))


async def test_after_ticket_expiry_the_upload_repeats_with_a_reopened_source(client: OpenTextClient, folder: int,
                                                                             emulator) -> None:
    existing = BytesSource(b"old" * 100)
    await upload(client, folder, "relogin.pdf", existing)
    source = BytesSource(b"new" * 100)
    await admin(emulator, "POST", "faults", json={"expire_tickets": True})
    # The lookup before the upload meets the expired ticket and logs in again: the stream is sent once.
    assert (await upload(client, folder, "relogin.pdf", source)).action == "version_added"
    assert source.opened == 1
    node = await client.find_child(folder, "relogin.pdf")
    assert node is not None
    await admin(emulator, "POST", "faults", json={"expire_tickets": True})
    third = BytesSource(b"third")
    version = await client.add_version(node.id, third.body("relogin.pdf"))  # the upload itself meets the 401
    assert (version.version_number, version.sha256, third.opened) == (3, third.sha256, 2)  # the repeat reopened it
    calls = await admin(emulator, "GET", "calls")
    assert calls["auth.login"] == 3


async def test_categories_by_name_are_set_on_create_and_only_rewritten_when_they_differ(
        client: OpenTextClient, folder: int, emulator) -> None:
    doc_cat = next(c.id for c in emulator.state.categories.values() if c.name == "Document")
    source = BytesSource(b"cat" * 10)
    by_id = {str(doc_cat): {"Document Type": "Invoice", "Status": "Draft"}}
    result = await upload(client, folder, "cat.pdf", source, categories=by_id)
    values = await client.get_categories(result.node_id)
    assert (values[f"{doc_cat}_2"], values[f"{doc_cat}_3"]) == ("Invoice", "Draft")
    before = (await admin(emulator, "GET", "calls")).get("categories.update", 0)
    by_name = {"Document": {"Document Type": "Invoice", "Status": "Draft"}}  # the name is known by now
    assert (await upload(client, folder, "cat.pdf", source, categories=by_name)).action == "unchanged"
    assert (await admin(emulator, "GET", "calls")).get("categories.update", 0) == before
    with pytest.raises(MappingError, match="Colour"):
        await upload(client, folder, "cat.pdf", source, categories={"Document": {"Colour": "red"}})


async def test_download_to_a_directory_or_a_file_and_an_old_version(client: OpenTextClient, folder: int,
                                                                    tmp_path: Path) -> None:
    v1, v2 = BytesSource(b"1" * 300_000), BytesSource(b"2" * 200_000)
    node_id = (await upload(client, folder, "report.pdf", v1)).node_id
    await upload(client, folder, "report.pdf", v2)
    into_dir = await client.download_to(node_id, tmp_path)
    assert into_dir.path == tmp_path / "report.pdf" and into_dir.sha256 == v2.sha256
    old = await client.download_to(node_id, tmp_path / "old.bin", version=1)
    assert (old.size, old.sha256) == (v1.size, v1.sha256)
    chunks = [len(c) async for c in client.iter_content(node_id, chunk_size=65536)]
    assert sum(chunks) == v2.size and max(chunks) <= 65536


async def test_a_file_on_disk_goes_up_and_comes_back_identical(client: OpenTextClient, folder: int,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "in.bin"
    path.write_bytes(hashlib.sha256(b"seed").digest() * 100_000)  # noqa: ASYNC240 - test setup
    size, digest = await file_sha256(path)
    result = await client.upload_document(folder, "disk.bin", file_body(path, chunk_size=1 << 16))
    assert (result.size, result.sha256, result.version_number, result.large_file) == (size, digest, 1, False)
    back = await client.download_to(result.node_id, tmp_path / "out.bin")
    assert (back.size, back.sha256) == (size, digest)
