"""Category metadata by name -> keyed updates, without a server (shapes from reference 4.1 and pyxecm)."""

from __future__ import annotations

import pytest

from xstream.clients.opentext.category_meta import (
    category_update,
    find_category,
    is_applied,
    parse_node_categories,
)
from xstream.errors import MappingError

ANSWER = {
    "results": [
        {
            "data": {"categories": {"23228_2": "Germany", "23228_3": "50031", "23228_4": ["1000"],
                                    "23228_5_1_6": "Heinz Hart", "23228_5_1_7": "h@x", "23228_5_2_6": "Old",
                                    "23228_5_2_7": "old@x", "23228_8_1_9": 3}},
            "metadata": {"categories": {
                "23228": {"key": "23228", "name": "Customer", "persona": "category"},
                "23228_2": {"key": "23228_2", "name": "Country", "type_name": "String"},
                "23228_3": {"key": "23228_3", "name": "Account Number", "type_name": "String"},
                "23228_4": {"key": "23228_4", "name": "Owners", "type_name": "Integer", "multi_value": True},
                "23228_5": {"key": "23228_5", "name": "Contacts", "type_name": "Assoc", "persona": "set"},
                "23228_5_x_6": {"key": "23228_5_x_6", "name": "Name", "type_name": "String"},
                "23228_5_x_7": {"key": "23228_5_x_7", "name": "Email", "type_name": "String"},
                "23228_8": {"key": "23228_8", "name": "Rating", "type_name": "Assoc", "persona": "set"},
                "23228_8_1_9": {"key": "23228_8_1_9", "name": "Score", "type_name": "Integer"},
            }},
            "metadata_order": {"categories": ["23228"]},
        },
        {
            "data": {"categories": {"30001_2": "x"}},
            "metadata": {"categories": {"30001": {"name": "Contract"}, "30001_2": {"name": "Country"}}},
        },
    ]
}


def test_parse_reads_ids_names_sets_and_values() -> None:
    customer, contract = parse_node_categories(ANSWER)
    assert (customer.id, customer.name, contract.id, contract.name) == (23228, "Customer", 30001, "Contract")
    assert [a.name for a in customer.top_level()] == ["Country", "Account Number", "Owners", "Contacts", "Rating"]
    assert [a.key for a in customer.members("23228_5")] == ["23228_5_x_6", "23228_5_x_7"]
    assert [a.key for a in customer.members("23228_8")] == ["23228_8_x_9"]
    assert customer.values["23228_5_1_6"] == "Heinz Hart"


def test_names_become_keys_and_set_rows_are_numbered() -> None:
    customer = find_category(parse_node_categories(ANSWER), "customer")
    assert customer is not None
    update = category_update(customer, {
        "Country": "Austria", "owners": ["1000", "2000"],
        "Contacts": [{"Name": "A", "Email": "a@x"}],  # one row: the old second row is emptied
        "Rating": {"Score": 5},
    })
    assert update == {"23228_2": "Austria", "23228_4": ["1000", "2000"], "23228_5_1_6": "A", "23228_5_1_7": "a@x",
                      "23228_5_2_6": None, "23228_5_2_7": None, "23228_8_1_9": 5}


def test_find_category_by_id_text_and_unknown() -> None:
    categories = parse_node_categories(ANSWER)
    assert find_category(categories, "30001") is categories[1]
    assert find_category(categories, "Supplier") is None


def test_unknown_attribute_or_set_member_is_a_mapping_error() -> None:
    customer = parse_node_categories(ANSWER)[0]
    with pytest.raises(MappingError, match="Colour"):
        category_update(customer, {"Colour": "red"})
    with pytest.raises(MappingError, match="Phone"):
        category_update(customer, {"Contacts": [{"Phone": "1"}]})
    with pytest.raises(MappingError, match="list of rows"):
        category_update(customer, {"Contacts": "A"})


def test_is_applied_compares_only_the_updated_keys() -> None:
    customer = parse_node_categories(ANSWER)[0]
    assert is_applied(customer, {"23228_2": "Germany", "23228_5_1_6": "Heinz Hart"})
    assert not is_applied(customer, {"23228_2": "Austria"})
    assert not is_applied(customer, {"23228_5_3_6": "New"})
