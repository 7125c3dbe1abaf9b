"""Category values by name against the emulator: apply when missing, set rows, no-op replays, locking."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.clients.support import admin
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest
from xstream.errors import DeadLetterReason, EditConflict, MappingError

ENTERPRISE = 2000


@pytest.fixture
async def workspace(client: OpenTextClient) -> int:
    (customer,) = [t for t in await client.workspace_types() if t.name == "Customer"]
    request = WorkspaceCreateRequest(template_id=customer.templates[0].id, wksp_type_id=customer.id, name="ACME",
                                     business_object=BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id="7"))
    return (await client.ensure_workspace(request)).node_id


def customer_keys(emulator) -> dict[str, str]:
    """Attribute title -> key of the seeded Customer category (set members as "Contacts/Name")."""
    category = next(c for c in emulator.state.categories.values() if c.name == "Customer")
    keys = {}
    for attr in category.attributes:
        keys[attr.title] = attr.key
        for sub in attr.set_attributes:
            keys[f"{attr.title}/{sub.title}"] = sub.key
    return keys


async def test_values_and_set_rows_by_name(client: OpenTextClient, workspace: int, emulator) -> None:
    keys = customer_keys(emulator)
    contacts = [{"Name": "A", "Email": "a@x"}, {"Name": "B", "Email": "b@x"}]
    await client.update_categories(workspace, {"Customer": {"Status": "Active", "Contacts": contacts}})
    values = await client.get_categories(workspace)
    row = keys["Contacts/Name"].replace("_x_", "_{}_")
    assert values[keys["Status"]] == "Active"
    assert [values[row.format(1)], values[row.format(2)]] == ["A", "B"]
    await client.update_categories(workspace, {"Customer": {"Contacts": [{"Name": "C", "Email": "c@x"}]}})
    values = await client.get_categories(workspace)
    assert values[row.format(1)] == "C" and not values.get(row.format(2))  # the second row was emptied
    (category,) = await client.node_categories(workspace)
    assert category.name == "Customer" and [a.name for a in category.members(keys["Contacts"])] == ["Name", "Email"]


async def test_a_replay_writes_nothing(client: OpenTextClient, workspace: int, emulator) -> None:
    values = {"Customer": {"Region": "EMEA", "Contacts": [{"Name": "A", "Email": "a@x"}]}}
    await client.update_categories(workspace, values)
    before = await admin(emulator, "GET", "calls")
    await client.update_categories(workspace, values)
    after = await admin(emulator, "GET", "calls")
    assert after.get("categories.update", 0) == before.get("categories.update", 0)


async def test_a_missing_category_is_applied_first(client: OpenTextClient, emulator) -> None:
    folder = await client.create_folder(ENTERPRISE, "Needs a category")
    doc_cat = next(c.id for c in emulator.state.categories.values() if c.name == "Document")
    assert await client.node_categories(folder) == []
    await client.update_categories(folder, {str(doc_cat): {"Document Type": "Contract"}})
    (category,) = await client.node_categories(folder)
    assert (category.id, category.name, category.values[f"{doc_cat}_2"]) == (doc_cat, "Document", "Contract")
    other = await client.create_folder(ENTERPRISE, "By name")
    await client.update_categories(other, {"Document": {"Status": "Final"}})  # learned from the first answer
    assert (await client.get_categories(other))[f"{doc_cat}_3"] == "Final"


async def test_concurrent_first_updates_apply_the_category_once(client: OpenTextClient, emulator) -> None:
    folder = await client.create_folder(ENTERPRISE, "Racing categories")
    doc_cat = next(c.id for c in emulator.state.categories.values() if c.name == "Document")
    await asyncio.gather(*(client.update_categories(folder, {str(doc_cat): {"Status": f"S{i}"}}) for i in range(5)))
    (category,) = await client.node_categories(folder)
    assert category.values[f"{doc_cat}_3"] in {f"S{i}" for i in range(5)}


async def test_unknown_names_are_mapping_errors(client: OpenTextClient, workspace: int) -> None:
    with pytest.raises(MappingError, match="Colour"):
        await client.update_categories(workspace, {"Customer": {"Colour": "red"}})
    with pytest.raises(MappingError, match="Phone"):
        await client.update_categories(workspace, {"Customer": {"Contacts": [{"Phone": "1"}]}})
    with pytest.raises(MappingError, match="Nonexistent"):
        await client.update_categories(workspace, {"Nonexistent": {"X": 1}})


async def test_metadata_tokens_lock_optimistically(client: OpenTextClient, workspace: int) -> None:
    (cat_id, token), = (await client.metadata_tokens(workspace)).items()
    await client.update_categories(workspace, {"Customer": {"Status": "One"}}, metadata_token=token)
    with pytest.raises(EditConflict) as err:  # the token changed with the first update
        await client.update_categories(workspace, {"Customer": {"Status": "Two"}}, metadata_token=token)
    assert err.value.status == 409 and not err.value.retriable
    fresh = (await client.metadata_tokens(workspace))[cat_id]
    await client.update_categories(workspace, {"Customer": {"Status": "Two"}}, metadata_token={"Customer": fresh})
    assert "Two" in (await client.get_categories(workspace)).values()
    with pytest.raises(ValueError, match="by name"):
        await client.update_categories(workspace, {"Customer": {}, "Document": {}}, metadata_token=fresh)


async def test_a_value_the_emulator_metadata_refuses_is_wrong_type_and_nothing_is_written(
        client: OpenTextClient, workspace: int, emulator) -> None:
    folder = await client.create_folder(ENTERPRISE, "Typed")
    await client.update_categories(folder, {"Document": {"Document Date": "2025-03-01"}})
    before = await admin(emulator, "GET", "calls")
    for wrong in ("next Tuesday", {"date": "2025-03-01"}, 20148):
        with pytest.raises(MappingError) as caught:
            await client.update_categories(folder, {"Document": {"Status": "Final", "Document Date": wrong}})
        assert caught.value.reason is DeadLetterReason.WRONG_TYPE
        assert "OpenText says Document.Document Date" in caught.value.detail and "is Date" in caught.value.detail
    with pytest.raises(MappingError, match="is String: it cannot take object"):
        await client.update_categories(workspace, {"Customer": {"Customer Name": {"first": "Ada"}}})
    assert (await admin(emulator, "GET", "calls")).get("categories.update", 0) == before.get("categories.update", 0)
    await client.update_categories(workspace, {"Document": {"Document Type": "Contract"}})
    before = await admin(emulator, "GET", "calls")
    with pytest.raises(MappingError, match="Document Date"):  # the first category is fine, the second is not
        await client.update_categories(workspace, {"Customer": {"Status": "New"},
                                                   "Document": {"Document Date": "soon"}})
    after = await admin(emulator, "GET", "calls")
    assert after.get("categories.update", 0) == before.get("categories.update", 0)
    assert "Final" not in (await client.get_categories(folder)).values()  # nothing of a refused update written
    assert "New" not in (await client.get_categories(workspace)).values()
