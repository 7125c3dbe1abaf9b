"""Category metadata by name -> keyed updates, without a server (shapes from reference 4.1 and pyxecm)."""

from __future__ import annotations

import pytest

from xstream.clients.opentext.category_meta import (
    NodeCategory,
    find_category,
    is_applied,
    parse_node_categories,
    value_problem,
)
from xstream.errors import DeadLetterReason, MappingError
from xstream.transform.opentext_requests import put_body

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


def category_update(category: NodeCategory, values: dict) -> dict:
    """The PUT body the client sends for these values (the one builder, with this node's keys and rows)."""
    return put_body(category.keys(), values)


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


TYPED = {"results": [{
    "data": {"categories": {}},
    "metadata": {"categories": {
        "40001": {"key": "40001", "name": "Case", "persona": "category"},
        "40001_2": {"key": "40001_2", "name": "Title", "type_name": "String", "max_length": 10},
        "40001_3": {"key": "40001_3", "name": "Items", "type_name": "Integer"},
        "40001_4": {"key": "40001_4", "name": "Opened", "type_name": "Date"},
        "40001_5": {"key": "40001_5", "name": "Owner", "type_name": "Integer", "persona": "user"},
        "40001_6": {"key": "40001_6", "name": "Codes", "type_name": "Integer", "multi_value": True},
        "40001_7": {"key": "40001_7", "name": "Lines", "type_name": "Assoc", "persona": "set"},
        "40001_7_x_8": {"key": "40001_7_x_8", "name": "Qty", "type_name": "Real"},
    }},
    "metadata_order": {"categories": ["40001"]},
}]}


def test_parse_reads_what_the_metadata_says_about_types() -> None:
    (case,) = parse_node_categories(TYPED)
    title, _, _, owner, codes, *_ = case.attributes
    assert (title.type_name, title.max_length) == ("String", 10)
    assert (owner.type_name, owner.persona) == ("Integer", "user") and codes.multi_value


@pytest.mark.parametrize(("type_name", "value", "fits"), [
    ("String", "x", True), ("String", 42, True), ("String", 2.5, True), ("String", True, False),
    ("String", {"first": "Ada"}, False), ("String", ["a"], False),
    ("Integer", 42, True), ("Integer", "42", True), ("Integer", 4.0, True), ("Integer", "4.2", False),
    ("Integer", True, False), ("Integer", "x", False),
    ("Real", 1.5, True), ("Real", "12.50", True), ("Real", 3, True), ("Real", "1,5", False), ("Real", False, False),
    ("Boolean", True, True), ("Boolean", "false", True), ("Boolean", "yes", False), ("Boolean", 2, False),
    ("Date", "2025-03-01", True), ("Date", "2025-03-01T10:00:00", True), ("Date", "2025-03-01T10:00:00Z", True),
    ("Date", "2025-02-30", False), ("Date", "01.03.2025", False), ("Date", 20148, False),
    ("User", 1001, True), ("User", "j.doe", True), ("User", 0, False), ("User", "", False), ("User", 1.5, False),
    ("Multiline", "x", True), (None, 7, True), (None, {"a": 1}, False),  # an unknown type: any scalar
    ("integer", 3, True), ("number", "x", False),  # the create form's JSON-schema names
])
def test_value_problem_by_opentext_type(type_name: str | None, value: object, fits: bool) -> None:
    assert (value_problem(type_name, value) is None) is fits
    assert value_problem(type_name, None) is None  # None clears, whatever the type


def test_value_problem_for_multi_value_users_and_length() -> None:
    assert value_problem("Integer", [1, "2", None], multi_value=True) is None
    assert value_problem("Integer", [1, "x"], multi_value=True) == 'item 2: text "x"'
    assert value_problem("Integer", [1]) == "a list for a single-value attribute"
    assert value_problem("Integer", "j.doe", persona="user") is None  # a user attribute: a login may resolve
    assert value_problem("String", "x" * 11, max_length=10) == "text of 11 characters (at most 10)"


def test_a_value_the_attribute_cannot_take_is_wrong_type_before_any_key_is_built() -> None:
    (case,) = parse_node_categories(TYPED)
    assert category_update(case, {"Title": "Pump", "Items": "3", "Opened": "2025-03-01", "Owner": 1001,
                                  "Codes": [1, 2], "Lines": [{"Qty": 1.5}]}) == {
        "40001_2": "Pump", "40001_3": "3", "40001_4": "2025-03-01", "40001_5": 1001, "40001_6": [1, 2],
        "40001_7_1_8": 1.5}
    with pytest.raises(MappingError) as caught:
        category_update(case, {"Items": {"n": 3}})
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE
    assert caught.value.detail == ('OpenText says Case.Items (40001_3) is Integer: it cannot take object {"n":3}')
    with pytest.raises(MappingError, match=r"Case.Lines\[2\].Qty \(40001_7_x_8\) is Real: it cannot take text"):
        category_update(case, {"Lines": [{"Qty": 1}, {"Qty": "lots"}]})
    with pytest.raises(MappingError, match=r"Case.Codes \(40001_6\) is Integer, multi-value: it cannot take item 1"):
        category_update(case, {"Codes": ["one"]})
    with pytest.raises(MappingError, match=r"is String: it cannot take text of 41 characters"):
        category_update(case, {"Title": "t" * 41})
    with pytest.raises(MappingError) as caught:  # the detail is bounded even for a huge value
        category_update(case, {"Opened": {"x": "y" * 10_000}})
    assert len(caught.value.detail) < 200
