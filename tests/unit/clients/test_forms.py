"""Category and attribute names resolve to OpenText keys through the create form; unknown names fail
as mapping errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
from xstream.errors import DeadLetterReason, MappingError
from xstream.transform.opentext_requests import create_categories

# Shaped like reference/opentext-api.md 2.2: a general form, then the categories form with a
# metadata-token key without a title, a multi-row set and a single-row set.
FORM = {
    "forms": [
        {"data": {"name": ""}, "schema": {"properties": {"name": {"title": "Name", "type": "string"}}}},
        {
            "role_name": "categories",
            "data": {"23228": {"23228_1": {"metadata_token": ""}, "23228_2": None, "23228_3": None}},
            "schema": {"properties": {
                "23228": {"title": "Customer", "properties": {
                    "23228_1": {"type": "object"},
                    "23228_2": {"title": "Country", "type": "string"},
                    "23228_3": {"title": "Account Number", "type": "string"},
                    "23228_5": {"title": "Contacts", "type": "array",
                                "items": {"properties": {"23228_5_x_6": {"title": "Name"}}}},
                }},
                "30001": {"title": "Contract", "properties": {"30001_2": {"title": "Country", "type": "string"}}},
            }},
        },
        {"role_name": "classifications", "data": {}, "schema": {}},
    ]
}


@pytest.fixture
def key_map() -> CategoryKeyMap:
    return parse_create_form(FORM)


def resolve(key_map: CategoryKeyMap, category: str, attribute: str) -> tuple[str, str]:
    keys = key_map.category_keys(category)
    return keys.id, keys.attribute(attribute).key


def test_names_resolve_to_category_ids_and_attribute_keys(key_map) -> None:
    assert resolve(key_map, "Customer", "Account Number") == ("23228", "23228_3")
    assert resolve(key_map, "Contract", "Country") == ("30001", "30001_2")
    assert resolve(key_map, "Customer", "Contacts") == ("23228", "23228_5")


def test_set_members_are_read_with_their_titles(key_map) -> None:
    contacts = key_map.category_keys("Customer").attribute("Contacts")
    assert contacts.members is not None and [(m.key, m.name) for m in contacts.members] == [("23228_5_x_6", "Name")]


def test_create_categories_builds_the_nested_roles_shape(key_map) -> None:
    resolved = create_categories(key_map, {
        "Customer": {"Country": "DE", "Account Number": "0000050031"},
        "Contract": {"Country": "AT"},
    })
    assert resolved == {"23228": {"23228_2": "DE", "23228_3": "0000050031"}, "30001": {"30001_2": "AT"}}


def test_case_and_surrounding_space_are_forgiven_and_keys_pass_through(key_map) -> None:
    assert resolve(key_map, "customer", " account number ") == ("23228", "23228_3")
    assert resolve(key_map, "23228", "23228_2") == ("23228", "23228_2")


def test_the_metadata_token_key_is_not_an_attribute(key_map) -> None:
    assert "23228_1" not in [a.key for a in key_map.category_keys("Customer").attributes]


def test_unknown_category_is_a_mapping_error_naming_it(key_map) -> None:
    with pytest.raises(MappingError) as err:
        create_categories(key_map, {"Vendor": {"Country": "DE"}})
    assert err.value.reason is DeadLetterReason.MAPPING_FAILED
    assert "'Vendor'" in err.value.detail and "Customer" in err.value.detail


def test_unknown_attribute_is_a_mapping_error_naming_attribute_and_category(key_map) -> None:
    with pytest.raises(MappingError) as err:
        create_categories(key_map, {"Customer": {"Colour": "red"}})
    assert err.value.reason is DeadLetterReason.MAPPING_FAILED
    assert "'Colour'" in err.value.detail and "'Customer'" in err.value.detail
    assert "Account Number" in err.value.detail  # says what would have worked


def test_two_categories_with_the_same_title_are_ambiguous() -> None:
    form = {"forms": [{"role_name": "categories", "schema": {"properties": {
        "1": {"title": "Status", "properties": {"1_2": {"title": "Value"}}},
        "2": {"title": "Status", "properties": {"2_2": {"title": "Value"}}},
    }}}]}
    with pytest.raises(MappingError, match="ambiguous"):
        resolve(parse_create_form(form), "Status", "Value")
    assert resolve(parse_create_form(form), "2", "Value") == ("2", "2_2")


@pytest.mark.parametrize("garbage", [None, [], {}, {"forms": "x"}, {"forms": [1, {"role_name": "categories"}]}])
def test_malformed_forms_give_an_empty_map(garbage) -> None:
    assert parse_create_form(garbage) == CategoryKeyMap()
    assert create_categories(parse_create_form(garbage), {}) == {}


titles = st.lists(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12),
                  min_size=1, max_size=8, unique_by=lambda t: t.casefold())


@given(titles)
def test_every_attribute_title_resolves_to_its_own_key(attribute_titles) -> None:
    props = {f"9_{n}": {"title": t} for n, t in enumerate(attribute_titles, start=2)}
    key_map = parse_create_form({"forms": [{"role_name": "categories",
                                            "schema": {"properties": {"9": {"title": "Cat", "properties": props}}}}]})
    for n, title in enumerate(attribute_titles, start=2):
        assert resolve(key_map, "Cat", title) == ("9", f"9_{n}")


# Shaped like a real Content Server categories form (csui test data): dates are schema "string" with a
# "date" field option, users "otcs_user_picker", multi-value attributes "array" of typed items,
# text may carry maxLength; a multi-row set is an "array" of row objects, a single-row set an "object".
REAL_FORM = {"forms": [{
    "role_name": "categories",
    "options": {"fields": {"500": {"fields": {
        "500_2": {"type": "date", "label": "Signed On"},
        "500_6": {"fields": {"item": {"type": "date"}}, "label": "Reminders"},
    }}}},
    "schema": {"properties": {"500": {"title": "Contract", "type": "object", "properties": {
        "500_1": {"type": "object"},
        "500_2": {"title": "Signed On", "type": "string"},
        "500_3": {"title": "Code", "type": "string", "maxLength": 4},
        "500_4": {"title": "Owner", "type": "otcs_user_picker"},
        "500_5": {"title": "Amounts", "type": "array", "items": {"type": "integer", "maxItems": 3}},
        "500_6": {"title": "Reminders", "type": "array", "items": {"type": "string"}},
        "500_7": {"title": "Parties", "type": "array", "items": {"type": "object", "properties": {
            "500_7_x_8": {"title": "Party", "type": "string"}}}},
        "500_9": {"title": "Rating", "type": "object", "properties": {"500_9_1_10": {"title": "Score"}}},
        "500_11": {"title": "Notes"},
        "500_12": {"title": "Kind", "type": "String"},
        "500_13": {"title": "Flag", "type": "boolean"},
    }}}},
}]}


def contract(**values) -> dict:
    return create_categories(parse_create_form(REAL_FORM), {"Contract": values})


def test_values_a_real_form_allows_are_sent_as_they_are() -> None:
    assert contract(**{"Signed On": "2026-03-01T10:00:00", "Code": "AB12", "Owner": "jdoe", "Amounts": [1, "2"],
                       "Reminders": ["2026-04-01", None], "Parties": [{"500_7_x_8": "ACME"}],
                       "Rating": {"500_9_1_10": 5}, "Notes": {"any": "thing"}, "Kind": 7, "Flag": "true"}) == {
        "500": {"500_2": "2026-03-01T10:00:00", "500_3": "AB12", "500_4": "jdoe", "500_5": [1, "2"],
                "500_6": ["2026-04-01", None], "500_7": [{"500_7_x_8": "ACME"}], "500_9": {"500_9_1_10": 5},
                "500_11": {"any": "thing"}, "500_12": 7, "500_13": "true"}}
    assert contract(Owner=1001)["500"]["500_4"] == 1001  # a user id


@pytest.mark.parametrize(("values", "message"), [
    ({"Signed On": "soon"}, 'Contract.Signed On (500_2) is date: it cannot take text "soon"'),
    ({"Code": "ABCDE"}, "Contract.Code (500_3) is string: it cannot take text of 5 characters (at most 4)"),
    ({"Owner": ""}, 'Contract.Owner (500_4) is otcs_user_picker (user): it cannot take text ""'),
    ({"Owner": -3}, "Contract.Owner (500_4) is otcs_user_picker (user): it cannot take integer -3"),
    ({"Amounts": [1, "x"]}, 'Contract.Amounts (500_5) is integer, multi-value: it cannot take item 2: text "x"'),
    ({"Reminders": ["later"]}, 'Contract.Reminders (500_6) is date, multi-value: it cannot take item 1: text'),
    ({"Kind": [1]}, "Contract.Kind (500_12) is String: it cannot take a list for a single-value attribute"),
    ({"Flag": "yes"}, 'Contract.Flag (500_13) is boolean: it cannot take text "yes"'),
])
def test_values_a_real_form_refuses_are_wrong_type(values, message) -> None:
    with pytest.raises(MappingError) as err:
        contract(**values)
    assert err.value.reason is DeadLetterReason.WRONG_TYPE
    assert err.value.detail.startswith(f"OpenText says {message}")



def test_set_rows_are_keyed_by_member_key_as_the_form_shows_them() -> None:
    """A create sends a set's rows keyed by member *key*: OpenText refuses member names ("non-matching
    attribute ('Party')"). One row given as an object stays one object."""
    assert contract(Parties=[{"Party": "ACME"}, {"party": "Initech"}], Rating={"Score": 5}) == {
        "500": {"500_7": [{"500_7_x_8": "ACME"}, {"500_7_x_8": "Initech"}], "500_9": {"500_9_1_10": 5}}}


@pytest.mark.parametrize(("values", "reason", "message"), [
    ({"Parties": [{"Party": {"name": "ACME"}}]}, DeadLetterReason.WRONG_TYPE,
     'OpenText says Contract.Parties[1].Party (500_7_x_8) is string: it cannot take object {"name":"ACME"}'),
    ({"Parties": [{"Party": "ACME"}, {"Phone": "1"}]}, DeadLetterReason.MAPPING_FAILED,
     "unknown attribute of set 'Parties': 'Phone'; the template has ['Party']"),
    ({"Parties": "ACME"}, DeadLetterReason.MAPPING_FAILED,
     "set 'Parties' of category 'Contract' takes a list of rows (objects by attribute name), got str"),
])
def test_set_rows_a_create_cannot_send_are_refused(values: dict, reason: DeadLetterReason, message: str) -> None:
    with pytest.raises(MappingError) as err:
        contract(**values)
    assert err.value.reason is reason and err.value.detail == message
