"""Nodes against the emulator: browse and paging, exact name lookup, folder paths (also racing), updates, audit."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.clients.support import BytesSource, admin
from xstream.clients.opentext import OpenTextClient
from xstream.errors import AlreadyExists, EditConflict, SinkRejected, TargetNotFound

ENTERPRISE = 2000


async def test_children_pages_and_the_async_iterator_sees_every_child(client: OpenTextClient) -> None:
    parent = await client.create_folder(ENTERPRISE, "Paging")
    names = [f"F{i:02d}" for i in range(7)]
    for name in reversed(names):
        await client.create_folder(parent, name)
    first = await client.children(parent, sort="asc_name", page=1, limit=3)
    assert [n.name for n in first.items] == names[:3]
    assert (first.page, first.limit, first.total_count, first.page_total, first.has_more) == (1, 3, 7, 3, True)
    last = await client.children(parent, sort="asc_name", page=3, limit=3)
    assert [n.name for n in last.items] == names[6:] and not last.has_more
    assert [n.name async for n in client.iter_children(parent, sort="asc_name", limit=2)] == names
    assert all(n.type == 0 and n.container and n.parent_id == parent for n in first.items)


async def test_find_child_is_exact_even_where_the_server_matches_loosely(client: OpenTextClient) -> None:
    parent = await client.create_folder(ENTERPRISE, "Lookup")
    await client.create_folder(parent, "Invoices 2025")
    assert await client.find_child(parent, "Invoices") is None
    inv = await client.create_folder(parent, "Invoices")
    found = await client.find_child(parent, "Invoices", where_type=0)
    assert found is not None and found.id == inv
    assert await client.find_child(parent, "invoices") is None


async def test_ensure_folder_path_creates_each_level_once(client: OpenTextClient, emulator) -> None:
    first = await client.ensure_folder_path(ENTERPRISE, ["Finance", "Invoices", "2025"])
    again = await client.ensure_folder_path(ENTERPRISE, ["Finance", "Invoices", "2025"])
    sibling = await client.ensure_folder_path(ENTERPRISE, ["Finance", "Invoices", "2026"])
    assert first == again != sibling
    node = await client.get_node(first)
    assert (node.name, node.type) == ("2025", 0)
    assert (await client.get_node(node.parent_id or 0)).name == "Invoices"
    assert await client.ensure_folder_path(first, []) == first


async def test_concurrent_ensure_folder_path_creates_exactly_one_folder_per_level(client: OpenTextClient,
                                                                                  emulator) -> None:
    results = await asyncio.gather(*(client.ensure_folder_path(ENTERPRISE, ["Race", "A", "B"]) for _ in range(20)))
    assert len(set(results)) == 1
    race = await client.find_child(ENTERPRISE, "Race")
    assert race is not None
    assert [n.name async for n in client.iter_children(race.id)] == ["A"]
    calls = await admin(emulator, "GET", "calls")
    assert calls["nodes.create"] >= 3  # losers of the race got AlreadyExists and looked up again


async def test_ensure_folder_path_rejects_empty_names_and_names_taken_by_documents(client: OpenTextClient) -> None:
    parent = await client.create_folder(ENTERPRISE, "Taken")
    source = BytesSource(b"x")
    await client.create_document(parent, "Reports", source, size=1)
    with pytest.raises(AlreadyExists):
        await client.ensure_folder_path(parent, ["Reports", "2025"])
    with pytest.raises(SinkRejected, match="empty folder name"):
        await client.ensure_folder_path(parent, ["A", " "])
    with pytest.raises(TypeError):
        await client.ensure_folder_path(parent, "A/B")


async def test_create_folder_twice_is_already_exists(client: OpenTextClient) -> None:
    await client.create_folder(ENTERPRISE, "Twice")
    with pytest.raises(AlreadyExists) as err:
        await client.create_folder(ENTERPRISE, "Twice")
    assert err.value.status == 500 and not err.value.retriable


async def test_rename_move_and_delete(client: OpenTextClient) -> None:
    a = await client.create_folder(ENTERPRISE, "Move A")
    b = await client.create_folder(ENTERPRISE, "Move B")
    renamed = await client.rename(a, "Moved")
    assert renamed.name == "Moved"
    moved = await client.move(a, b)
    assert moved.parent_id == b and moved.name == "Moved"
    await client.delete_node(a)
    with pytest.raises(TargetNotFound):
        await client.get_node(a)


async def test_a_stale_metadata_token_is_edit_conflict(client: OpenTextClient) -> None:
    node = await client.create_folder(ENTERPRISE, "Locked")
    with pytest.raises(EditConflict) as err:
        await client.update_node(node, name="Other", metadata_token="stale-token")
    assert err.value.status == 409


async def test_unknown_nodes_are_target_not_found_on_every_node_call(client: OpenTextClient) -> None:
    calls = {"get_node": lambda: client.get_node(999), "children": lambda: client.children(999),
             "versions": lambda: client.versions(999), "node_audit": lambda: client.node_audit(999),
             "delete_node": lambda: client.delete_node(999), "rename": lambda: client.rename(999, "x"),
             "download": lambda: client.download_to(999, "/nonexistent/x")}
    for name, call in calls.items():
        with pytest.raises(TargetNotFound):
            await call()
            pytest.fail(f"{name} did not raise")


async def test_versions_are_oldest_first_with_sizes(client: OpenTextClient) -> None:
    parent = await client.create_folder(ENTERPRISE, "Versions")
    doc = await client.create_document(parent, "v.txt", BytesSource(b"one"), size=3, mime_type="text/plain")
    await client.add_version(doc, BytesSource(b"second").body("v.txt", "text/plain"), description="2nd")
    versions = await client.versions(doc)
    assert [(v.version_number, v.file_size, v.file_name) for v in versions] == [(1, 3, "v.txt"), (2, 6, "v.txt")]
    assert versions[1].description == "2nd" and versions[0].mime_type == "text/plain"


async def test_node_audit_reports_changes_in_order(client: OpenTextClient) -> None:
    folder = await client.create_folder(ENTERPRISE, "Audited")
    await client.rename(folder, "Audited 2")
    page = await client.node_audit(folder)
    assert [e.audit_name for e in page.events][:2] == ["Rename", "Create"]  # newest first by default
    assert all(e.id == folder and e.user_id == 1000 for e in page.events)
    assert page.event_types[page.events[0].event_type] == "Rename"
    ascending = [e.audit_name async for e in client.iter_node_audit(folder, limit=1)]
    assert ascending[:2] == ["Create", "Rename"]
    only_create = await client.node_audit(folder, event_type=page.events[-1].event_type)
    assert [e.audit_name for e in only_create.events] == ["Create"]
