"""The create path checks OpenText's attribute types too, against the emulator: the create form's
per-attribute schema types are kept with the keys, and a value an attribute cannot take is a
``wrong_type`` MappingError before any create is sent (as :mod:`category_meta` does before a PUT)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from xstream_emulators.opentext import RunningEmulator

from tests.unit.clients.support import admin, start_typed_emulator
from xstream.clients.opentext import BusinessObjectRef, CategoryKeyMap, OpenTextClient, WorkspaceCreateRequest
from xstream.clients.opentext.forms import FormAttribute
from xstream.errors import DeadLetterReason, MappingError
from xstream.transform.opentext_requests import create_categories


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    emu = await start_typed_emulator()
    yield emu
    await emu.stop()


async def template_keys(client: OpenTextClient, type_name: str) -> tuple[int, int, CategoryKeyMap]:
    (ws_type,) = [t for t in await client.workspace_types() if t.name == type_name]
    template = ws_type.templates[0]
    return ws_type.id, template.id, await client.category_keys(template.id)


def keys_by_title(emulator: RunningEmulator, category: str) -> dict[str, str]:
    definition = next(c for c in emulator.state.categories.values() if c.name == category)
    return {a.title: a.key for a in definition.attributes}


async def test_the_create_form_keeps_each_attributes_type(client: OpenTextClient, emulator: RunningEmulator) -> None:
    _, _, key_map = await template_keys(client, "Contract")
    keys = keys_by_title(emulator, "Contract")
    attributes = {a.key: a for a in key_map.category_keys("Contract").attributes}
    assert attributes[keys["Contract Number"]].check == FormAttribute("string")
    assert attributes[keys["Amount"]].check == FormAttribute("integer")
    assert attributes[keys["Rate"]].check == FormAttribute("number")
    assert attributes[keys["Signed"]].check == FormAttribute("boolean")
    assert attributes[keys["Start Date"]].check == FormAttribute("date")
    parties = attributes[keys["Parties"]]
    assert parties.check is None and parties.members is not None and parties.members  # a set: its members
    _, _, customer = await template_keys(client, "Customer")
    assert {a.check.type for a in customer.category_keys("Customer").attributes
            if isinstance(a.check, FormAttribute)} == {"string"}


async def test_right_typed_values_resolve_and_reach_the_workspace(client: OpenTextClient,
                                                                 emulator: RunningEmulator) -> None:
    type_id, template_id, key_map = await template_keys(client, "Contract")
    keys = keys_by_title(emulator, "Contract")
    values = {"Contract Number": 4711, "Amount": "1200", "Rate": "0.25", "Signed": True, "Start Date": "2026-03-01"}
    categories = create_categories(key_map, {"Contract": values})
    cat_id = keys["Amount"].split("_")[0]
    assert categories == {cat_id: {keys["Contract Number"]: 4711, keys["Amount"]: "1200", keys["Rate"]: "0.25",
                                   keys["Signed"]: True, keys["Start Date"]: "2026-03-01"}}
    created = await client.ensure_workspace(WorkspaceCreateRequest(
        template_id=template_id, wksp_type_id=type_id, name="Contract 4711", categories=categories,
        business_object=BusinessObjectRef(ext_system_id="SAP", bo_type="VBAK", bo_id="4711")))
    assert created.created
    stored = await client.get_categories(created.node_id)
    assert stored[keys["Amount"]] == "1200" and stored[keys["Signed"]] is True
    assert stored[keys["Start Date"]] == "2026-03-01"


@pytest.mark.parametrize(("attribute", "value", "expected", "found"), [
    ("Amount", "lots", "is integer", 'text "lots"'),
    ("Amount", 12.5, "is integer", "number 12.5"),
    ("Amount", True, "is integer", "boolean true"),
    ("Rate", "a quarter", "is number", 'text "a quarter"'),
    ("Signed", "maybe", "is boolean", 'text "maybe"'),
    ("Start Date", "next Tuesday", "is date", 'text "next Tuesday"'),
    ("Start Date", 20148, "is date", "integer 20148"),
    ("Contract Number", {"first": "C"}, "is string", 'object {"first":"C"}'),
    ("Contract Number", ["C-1", "C-2"], "is string", "a list for a single-value attribute"),
])
async def test_a_value_the_create_form_type_refuses_is_wrong_type_and_nothing_is_created(
    client: OpenTextClient, emulator: RunningEmulator, attribute: str, value: Any, expected: str, found: str,
) -> None:
    _, _, key_map = await template_keys(client, "Contract")
    key = keys_by_title(emulator, "Contract")[attribute]
    before = await admin(emulator, "GET", "calls")
    with pytest.raises(MappingError) as caught:
        create_categories(key_map, {"Contract": {"Contract Number": "C-1", attribute: value}})
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE
    assert f"OpenText says Contract.{attribute} ({key}) {expected}: it cannot take {found}" == caught.value.detail
    assert await admin(emulator, "GET", "calls") == before  # pure: refused before any call


async def test_the_seeded_text_attributes_refuse_objects_but_take_numbers(client: OpenTextClient) -> None:
    _, _, key_map = await template_keys(client, "Customer")
    create_categories(key_map, {"Customer": {"Account Number": 50031, "Region": "EMEA"}})
    with pytest.raises(MappingError, match=r"Customer\.Customer Name .* is string: it cannot take object") as caught:
        create_categories(key_map, {"Customer": {"Customer Name": {"first": "Ada"}}})
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE


async def test_unknown_names_stay_mapping_failed_not_wrong_type(client: OpenTextClient) -> None:
    _, _, key_map = await template_keys(client, "Contract")
    with pytest.raises(MappingError) as caught:
        create_categories(key_map, {"Contract": {"Colour": {"not": "checked"}}})
    assert caught.value.reason is DeadLetterReason.MAPPING_FAILED

