"""One template language for mapping rules, link back and status rules: one grammar, one check when the
rules load (an unknown placeholder is a ``file:line`` error), one fill (scalars only; a missing value
is a typed error naming the placeholder)."""

from __future__ import annotations

import pytest

from xstream.errors import ConfigError, DeadLetterReason, MappingError
from xstream.transform.rule_files import SAMPLE_RULES
from xstream.transform.rules import LINK_BACK, RECORD_FIELDS, parse_rules
from xstream.transform.status_rules import TEMPLATES, parse_status_rule_sources
from xstream.transform.templates import Placeholder, Vocabulary, by_name, placeholders


def test_one_grammar_names_and_qualified_attributes() -> None:
    assert placeholders("{document_name} in {workspace.Region Name} ({ x }, {1a}, {a-b})") == [
        Placeholder("{document_name}", "document_name"),
        Placeholder("{workspace.Region Name}", "workspace", "Region Name")]


@pytest.mark.parametrize(("vocabulary", "template", "message"), [
    (RECORD_FIELDS, "{customer.name}", "unknown placeholder {customer.name}; a placeholder names one field of the "
                                       "record, e.g. {id}"),
    (LINK_BACK, "{node}", "unknown placeholder {node}; use bo_id, bo_type, ext_system_id, workspace_id, workspace_url"),
    (TEMPLATES, "{nope}", "unknown placeholder {nope}; use document_id, "),
    (TEMPLATES, "{vendor.Name}", "unknown placeholder {vendor.Name}; qualified ones are {document.<Attribute>} and "
                                 "{workspace.<Attribute>}"),
])
def test_unknown_placeholders_are_refused(vocabulary: Vocabulary, template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        vocabulary.check(template)
    assert str(caught.value).startswith(message)
    assert RECORD_FIELDS.check("{any_field} {Other1}") == "{any_field} {Other1}"  # a record's fields: any name


def test_values_show_as_json_writes_them_and_objects_are_refused() -> None:
    row = {"n": 42, "x": 2.5, "yes": True, "s": "Ada", "empty": "", "obj": {"first": "Ada"}, "tags": ["a", None, 1]}
    assert RECORD_FIELDS.fill("{s}/{n}/{x}/{yes}/{empty}", by_name(row), what="name") == "Ada/42/2.5/true/"
    with pytest.raises(MappingError) as caught:
        RECORD_FIELDS.fill("{obj}", by_name(row), what="rule r: workspace.name")
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE
    assert caught.value.detail == ('rule r: workspace.name: field \'obj\': expected text, number or boolean, '
                                   'found object {"first":"Ada"}')
    with pytest.raises(MappingError, match="field 'tags': expected text"):  # a name takes no list
        RECORD_FIELDS.fill("{tags}", by_name(row), what="name")
    assert TEMPLATES.fill("{tags}", by_name(row), what="title") == "a, 1"  # a multi-value attribute's values


def test_a_missing_value_is_a_typed_error_where_the_text_must_be_complete_else_empty() -> None:
    with pytest.raises(MappingError) as caught:
        RECORD_FIELDS.fill("{customer_id}", by_name({"customer_id": None}), what="rule r: business_object.bo_id")
    assert caught.value.reason is DeadLetterReason.MISSING_FIELD
    assert caught.value.detail == "rule r: business_object.bo_id: field 'customer_id' has no value here"
    with pytest.raises(MappingError) as caught:
        TEMPLATES.fill("{bo_id}", by_name({}), what="record_id")
    assert caught.value.detail == "record_id: {bo_id} has no value here"
    assert TEMPLATES.fill("in {workspace_name}", by_name({}), what="text", required=False) == "in "


def test_every_rule_language_checks_its_templates_when_it_loads() -> None:
    mapping = SAMPLE_RULES.read_text()
    assert 'name: "{name} ({customer_id})"' in mapping
    with pytest.raises(ConfigError) as caught:
        parse_rules(mapping.replace('name: "{name} ({customer_id})"', 'name: "{customer.name}"'), "r.yaml")
    assert "r.yaml:20: rules.0.workspace.name: Value error, unknown placeholder {customer.name}" in str(caught.value)
    status = ("version: 1\nstatus_rules:\n  - name: x\n    when: {status: {to: S}}\n"
              "    then: [{notify: {target: chat, channel: a, title: '{Document_Name}'}}]\n")
    with pytest.raises(ConfigError, match=r"r.yaml:5: status_rules.0.then.0.notify.title: .*unknown placeholder "
                                          r"\{Document_Name\}"):
        parse_status_rule_sources([("r.yaml", status)])
