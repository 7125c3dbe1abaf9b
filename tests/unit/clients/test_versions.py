"""Versions one by one against the emulator: typed metadata, lock and unlock, promote, delete, copy link."""

from __future__ import annotations

import pytest
from xstream_emulators.opentext import RunningEmulator

from tests.unit.clients.support import BytesSource, admin
from xstream.clients.opentext import OpenTextClient, Version
from xstream.errors import SinkRejected, TargetNotFound

ENTERPRISE = 2000


@pytest.fixture
async def doc(client: OpenTextClient) -> int:
    created = await client.upload_document(ENTERPRISE, "Contract.pdf",
                                           BytesSource(b"%PDF one").body("contract.pdf", "application/pdf"))
    await client.add_version(created.node_id, BytesSource(b"%PDF two!").body("contract-2.pdf", "application/pdf"))
    return created.node_id


async def test_versions_are_typed_with_size_name_dates_and_lock(client: OpenTextClient, doc: int) -> None:
    one, two = await client.versions(doc)
    assert isinstance(one, Version)
    assert (one.version_number, one.file_name, one.file_size, one.mime_type) == (1, "contract.pdf", 8,
                                                                                  "application/pdf")
    assert (two.version_number, two.file_name, two.file_size, two.locked) == (2, "contract-2.pdf", 9, False)
    assert one.file_create_date and (one.major, one.minor) == (0, 1)
    assert await client.version(doc, 2) == two
    assert await client.latest_version(doc) == two
    with pytest.raises(TargetNotFound):
        await client.version(doc, 7)


async def test_a_locked_version_cannot_be_deleted_until_it_is_unlocked(client: OpenTextClient, doc: int,
                                                                      emulator: RunningEmulator) -> None:
    locked = await client.lock_version(doc, 1)
    assert (locked.version_number, locked.locked, locked.locked_user_id) == (1, True, 1000)
    assert locked.locked_date
    assert [v.locked for v in await client.versions(doc)] == [True, False]
    assert (await client.lock_version(doc, 1)).locked_date == locked.locked_date  # idempotent
    with pytest.raises(SinkRejected, match="versions-delete"):
        await client.delete_version(doc, 1)
    added = await client.add_version(doc, BytesSource(b"three").body("contract-3.pdf"))  # the node stays open
    assert added.version_number == 3
    unlocked = await client.unlock_version(doc, 1)
    assert (unlocked.locked, unlocked.locked_date, unlocked.locked_user_id) == (False, None, None)
    await client.delete_version(doc, 1)
    assert [v.version_number for v in await client.versions(doc)] == [2, 3]
    calls = await admin(emulator, "GET", "calls")
    assert (calls["versions.lock"], calls["versions.unlock"], calls["versions.delete"]) == (2, 1, 2)


async def test_promote_makes_the_next_major_version(client: OpenTextClient, doc: int) -> None:
    with pytest.raises(SinkRejected, match="standard versioning"):
        await client.promote_version(doc, 1)
    major = await client.add_version(doc, BytesSource(b"approved").body("approved.pdf"), add_major_version=True)
    promoted = await client.promote_version(doc, major.version_number, description="signed copy")
    assert (promoted.version_number, promoted.major, promoted.minor, promoted.description) == (4, 2, 0, "signed copy")
    assert promoted.file_name == "approved.pdf" and promoted.file_size == len(b"approved")


async def test_copy_link_is_the_users_address_of_the_node(client: OpenTextClient, doc: int,
                                                          emulator: RunningEmulator) -> None:
    assert await client.copy_link(doc) == f"{emulator.url}/app/nodes/{doc}"
    with pytest.raises(TargetNotFound):
        await client.copy_link(999_999)
