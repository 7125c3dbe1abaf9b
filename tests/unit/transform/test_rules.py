"""Rules files: operators get errors that point at the line to fix; the shipped sample is valid."""

from __future__ import annotations

import pytest

from xstream.app import SAMPLE_RULES
from xstream.errors import ConfigError
from xstream.transform.rules import parse_rules

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
