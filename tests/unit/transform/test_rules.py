"""Rules files: operators get errors that point at the line to fix; the shipped sample is valid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.errors import ConfigError
from xstream.transform.rule_files import SAMPLE_RULES
from xstream.transform.rules import Condition, parse_rule_sources, parse_rules

VALID = """\
version: 1
rules:
  - name: crm-accounts
    source: {system: crm, topics: [crm.cdc.accounts]}
    business_object: {ext_system_id: SF, bo_type: Account, bo_id: "{id}"}
    workspace: {type: Customer, name: "{name}"}
    categories:
      Customer:
        Owner: owner
        Status: {value: open}
"""


def test_shipped_sample_rules_are_valid() -> None:
    rules = parse_rules(SAMPLE_RULES.read_text(), str(SAMPLE_RULES))
    assert rules.topics == ["erp.cdc.customers"]


def test_shorthand_attribute_is_a_field_reference() -> None:
    rule = parse_rules(VALID, "r.yaml").rules[0]
    assert rule.categories["Customer"]["Owner"].field == "owner"
    assert rule.categories["Customer"]["Status"].value == "open"


def test_errors_name_file_line_and_field() -> None:
    broken = VALID.replace('bo_id: "{id}"', "bo_idx: 1")
    with pytest.raises(ConfigError) as caught:
        parse_rules(broken, "rules/crm.yaml")
    message = str(caught.value)
    assert "rules/crm.yaml:5: rules.0.business_object.bo_id: Field required" in message
    assert "rules.0.business_object.bo_idx: Extra inputs are not permitted" in message


def test_an_attribute_with_two_sources_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"r.yaml:10: rules.0.categories.Customer.Status.*one of field, value"):
        parse_rules(VALID.replace("{value: open}", "{value: open, field: status}"), "r.yaml")


def test_duplicate_rule_names_and_bad_yaml_are_refused() -> None:
    doubled = VALID + VALID.split("rules:\n", 1)[1]
    with pytest.raises(ConfigError, match="rule names must be unique: crm-accounts"):
        parse_rules(doubled, "r.yaml")
    with pytest.raises(ConfigError, match="r.yaml: not valid YAML"):
        parse_rules("rules: [", "r.yaml")


def test_match_by_topic_and_entity() -> None:
    rules = parse_rules(VALID.replace("topics: [crm.cdc.accounts]}", "topics: [crm.cdc.accounts], entity: accounts}"),
                        "r.yaml")
    assert rules.match("crm.cdc.accounts", "accounts") is not None
    assert rules.match("crm.cdc.accounts", "contacts") is None
    assert rules.match("other", "accounts") is None


FULL = """\
version: 1
rules:
  - name: erp-customers
    source: {system: erp, topics: [erp.cdc.customers], entity: customers}
    when:
      all:
        - {field: status, in: [active, on_hold]}
        - not: {field: account_group, equals: CPD}
    business_object: {ext_system_id: SAP, bo_type: KNA1, bo_id: "{customer_id}"}
    workspace:
      type: Customer
      parent_path: "Key Accounts/{region}"
      name: "{name}"
    categories:
      Customer:
        Status: status
    on_delete:
      set: {Customer: {Status: deleted}}
    link_back:
      target: erp
      entity: customers
      record_id: "{bo_id}"
      fields: {workspace_url: "{workspace_url}", workspace_id: "{workspace_id}"}
    echo:
      fields: [workspace_url, workspace_id]
      origin_field: last_changed_by
"""


def test_every_new_field_parses() -> None:
    rule = parse_rules(FULL, "r.yaml").rules[0]
    assert rule.when is not None and rule.when.all is not None and len(rule.when.all) == 2
    assert rule.workspace.parent_path == "Key Accounts/{region}"
    assert rule.delete_action == {"Customer": {"Status": "deleted"}}
    assert rule.link_back is not None and rule.link_back.target == "erp"
    assert rule.echo_fields == {"workspace_url", "workspace_id"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("- {field: status, in: [active, on_hold]}", "- {field: status, in: active}",
         "r.yaml:7: rules.0.when.all.0.in: Input should be a valid list"),
        ("- {field: status, in: [active, on_hold]}", "- {field: status, in: [a], equals: b}",
         "r.yaml:7: rules.0.when.all.0: Value error, give exactly one of equals, in, not_null with field"),
        ("- {field: status, in: [active, on_hold]}", "- {in: [a]}",
         "r.yaml:7: rules.0.when.all.0: Value error, give field with one of equals, in, not_null"),
        ("- {field: status, in: [active, on_hold]}", "- {field: status, matches: a}",
         "r.yaml:7: rules.0.when.all.0.matches: Extra inputs are not permitted"),
        ("- not: {field: account_group, equals: CPD}", "- not: {field: account_group, not_null: maybe}",
         "r.yaml:8: rules.0.when.all.1.not.not_null: Input should be a valid boolean"),
        ("      all:\n", "      any: [{field: a, equals: 1}]\n      all:\n",
         "r.yaml:5: rules.0.when: Value error, a condition is one of all, any, not, or a field test"),
        ('parent_path: "Key Accounts/{region}"', 'parent_path: "/Key Accounts"',
         "r.yaml:12: rules.0.workspace.parent_path: Value error, a folder path"),
        ('parent_path: "Key Accounts/{region}"', 'parent_path: "A"\n      parent_id: 5',
         "r.yaml:10: rules.0.workspace: Value error, give parent_id or parent_path, not both"),
        ("set: {Customer: {Status: deleted}}", "set: {Customer: {}}",
         "r.yaml:17: rules.0.on_delete: Value error, on_delete.set: category 'Customer' sets no attribute"),
        ("    on_delete:\n      set: {Customer: {Status: deleted}}", "    on_delete: delete",
         "r.yaml:17: rules.0.on_delete: Value error, on_delete is either 'ignore' or {set:"),
        ("set: {Customer: {Status: deleted}}", "remove: true",
         "r.yaml:18: rules.0.on_delete.remove: Extra inputs are not permitted"),
        ("      target: erp\n", "",
         "r.yaml:19: rules.0.link_back.target: Field required"),
        ('record_id: "{bo_id}"', 'record_id: "{customer_id}"',
         "r.yaml:22: rules.0.link_back.record_id: Value error, unknown placeholder {customer_id}"),
        ('workspace_id: "{workspace_id}"}', 'workspace_id: "{node}"}',
         "r.yaml:23: rules.0.link_back.fields: Value error, unknown placeholder {node}"),
        ("fields: [workspace_url, workspace_id]", "fields: workspace_url",
         "r.yaml:25: rules.0.echo.fields: Input should be a valid list"),
        ("origin_field: last_changed_by", "origin_field: ''",
         "r.yaml:26: rules.0.echo.origin_field: String should have at least 1 character"),
    ],
)
def test_errors_in_new_fields_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in FULL
    with pytest.raises(ConfigError) as caught:
        parse_rules(FULL.replace(old, new), "r.yaml")
    assert expected in str(caught.value), str(caught.value)


def test_echo_without_fields_origin_or_link_back_is_refused() -> None:
    text = VALID + "    echo: {}\n"
    with pytest.raises(ConfigError, match=r"r.yaml:3: rules.0: Value error, echo: give fields or origin_field"):
        parse_rules(text, "r.yaml")


def test_default_on_delete_sets_the_first_categorys_status_only_when_mapped() -> None:
    assert parse_rules(VALID, "r.yaml").rules[0].delete_action == {"Customer": {"Status": "deleted"}}
    no_status = VALID.replace("        Status: {value: open}\n", "")
    assert parse_rules(no_status, "r.yaml").rules[0].delete_action is None
    ignored = VALID + "    on_delete: ignore\n"
    assert parse_rules(ignored, "r.yaml").rules[0].delete_action is None


def test_echo_fields_default_to_the_link_back_fields() -> None:
    rule = parse_rules(FULL.replace("      fields: [workspace_url, workspace_id]\n", ""), "r.yaml").rules[0]
    assert rule.echo_fields == {"workspace_url", "workspace_id"}
    assert parse_rules(VALID, "r.yaml").rules[0].echo_fields == frozenset()


def test_two_rules_for_the_same_topic_and_entity_are_refused_across_files() -> None:
    other = VALID.replace("name: crm-accounts", "name: crm-accounts-2")
    with pytest.raises(ConfigError) as caught:
        parse_rule_sources([("a.yaml", VALID), ("b.yaml", other)])
    assert ("b.yaml:3: rules.0: rule crm-accounts-2 and rule crm-accounts (a.yaml:3) both match topic "
            "'crm.cdc.accounts'") in str(caught.value)
    with pytest.raises(ConfigError, match=r"b.yaml:3: rules.0: rule names must be unique: crm-accounts is also "
                                          r"defined at a.yaml:3"):
        parse_rule_sources([("a.yaml", VALID), ("b.yaml", VALID.replace("crm.cdc.accounts", "x"))])


def test_rules_of_one_topic_with_different_entities_may_coexist() -> None:
    a = VALID.replace("topics: [crm.cdc.accounts]}", "topics: [crm.cdc.accounts], entity: accounts}")
    b = a.replace("entity: accounts", "entity: contacts").replace("name: crm-accounts", "name: crm-contacts")
    rules = parse_rule_sources([("a.yaml", a), ("b.yaml", b)])
    assert [r.name for r in rules.rules] == ["crm-accounts", "crm-contacts"]
    assert rules.match("crm.cdc.accounts", "contacts") is rules.rules[1]
    with pytest.raises(ConfigError, match="both match topic 'crm.cdc.accounts' entity 'accounts'"):
        parse_rule_sources([("a.yaml", a), ("c.yaml", VALID.replace("name: crm-accounts", "name: any"))])


def test_errors_of_several_files_are_all_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rule_sources([("a.yaml", VALID.replace("system: crm", "system: ''")),
                            ("b.yaml", VALID.replace("type: Customer", "typo: Customer"))])
    message = str(caught.value)
    assert "a.yaml:4: rules.0.source.system" in message and "b.yaml:6: rules.0.workspace.type" in message


@pytest.mark.parametrize(
    ("condition", "row", "holds"),
    [
        ({"field": "s", "equals": "a"}, {"s": "a"}, True),
        ({"field": "s", "equals": 1}, {"s": "1"}, True),
        ({"field": "s", "equals": "true"}, {"s": True}, True),
        ({"field": "s", "equals": None}, {}, True),
        ({"field": "s", "in": ["a", "b"]}, {"s": "c"}, False),
        ({"field": "s", "not_null": True}, {"s": None}, False),
        ({"field": "s", "not_null": False}, {}, True),
        ({"all": [{"field": "a", "equals": 1}, {"field": "b", "equals": 2}]}, {"a": 1, "b": 3}, False),
        ({"any": [{"field": "a", "equals": 1}, {"field": "b", "equals": 2}]}, {"a": 1, "b": 3}, True),
        ({"not": {"field": "a", "equals": 1}}, {"a": 1}, False),
    ],
)
def test_conditions(condition: dict, row: dict, holds: bool) -> None:
    assert Condition.model_validate(condition).holds(row) is holds


_leaf_values = st.sampled_from(["a", "b", "1", 1, True, None])
_leaves = st.one_of(
    st.builds(lambda f, v: {"field": f, "equals": v}, st.sampled_from(["x", "y"]), _leaf_values),
    st.builds(lambda f, vs: {"field": f, "in": vs}, st.sampled_from(["x", "y"]), st.lists(_leaf_values, max_size=3)),
    st.builds(lambda f, b: {"field": f, "not_null": b}, st.sampled_from(["x", "y"]), st.booleans()),
)
_conditions = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"all": cs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"any": cs}),
        inner.map(lambda c: {"not": c}),
    ),
    max_leaves=6,
)


def _text(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _reference(cond: dict, row: dict) -> bool:
    if "all" in cond:
        return all(_reference(c, row) for c in cond["all"])
    if "any" in cond:
        return any(_reference(c, row) for c in cond["any"])
    if "not" in cond:
        return not _reference(cond["not"], row)
    value = row.get(cond["field"])
    if "not_null" in cond:
        return (value is not None) == cond["not_null"]

    def same(target: object) -> bool:
        if value is None or target is None:
            return value is target
        return value == target or _text(value) == _text(target)

    return any(same(t) for t in cond["in"]) if "in" in cond else same(cond["equals"])


@given(cond=_conditions, row=st.dictionaries(st.sampled_from(["x", "y"]), _leaf_values))
def test_conditions_agree_with_a_reference_evaluator(cond: dict, row: dict) -> None:
    assert Condition.model_validate(cond).holds(row) is _reference(cond, row)


def test_entity_names_match_ignoring_case() -> None:
    """Oracle and Db2 report unquoted table names in upper case, Postgres in lower case: one rule serves both."""
    rules = parse_rules(VALID.replace("topics: [crm.cdc.accounts]}", "topics: [crm.cdc.accounts], entity: accounts}"),
                        "r.yaml")
    assert rules.match("crm.cdc.accounts", "ACCOUNTS") is rules.rules[0]
    assert rules.match("crm.cdc.accounts", "Accounts") is rules.rules[0]
    assert rules.match("crm.cdc.accounts", "CONTACTS") is None
    assert rules.for_causation("crm", "ACCOUNTS", "crm.cdc.accounts", "SF", "Account") is rules.rules[0]


def test_two_rules_whose_entities_differ_only_in_case_are_refused() -> None:
    lower = VALID.replace("topics: [crm.cdc.accounts]}", "topics: [crm.cdc.accounts], entity: accounts}")
    upper = lower.replace("entity: accounts", "entity: ACCOUNTS").replace("name: crm-accounts", "name: crm-oracle")
    with pytest.raises(ConfigError) as caught:
        parse_rule_sources([("a.yaml", lower), ("b.yaml", upper)])
    assert ("b.yaml:3: rules.0: rule crm-oracle and rule crm-accounts (a.yaml:3) both match topic 'crm.cdc.accounts' "
            "entity 'ACCOUNTS' and entity 'accounts' (entity names compare ignoring case)") in str(caught.value)


UNKNOWN_KEYS = """\
version: 1
rules:
  - name: crm-accounts
    source: {system: crm, topics: [crm.cdc.accounts]}
    business_object: {ext_system_id: SF, bo_type: Account, bo_id: "{id}"}
    workspace: {type: Customer, name: "{name}"}
    colour:
      shade: blue
    categories:
      Customer:
        Owner: owner
        Region:
          feild: region
"""


def test_an_unknown_key_is_reported_on_its_own_line() -> None:
    """Also when its value is a block that starts on the next line."""
    with pytest.raises(ConfigError) as caught:
        parse_rules(UNKNOWN_KEYS, "r.yaml")
    message = str(caught.value)
    assert "r.yaml:7: rules.0.colour: Extra inputs are not permitted" in message
    assert "r.yaml:13: rules.0.categories.Customer.Region.feild: Extra inputs are not permitted" in message
