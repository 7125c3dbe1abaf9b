"""Typed rules: a wrong-typed row is a ``wrong_type`` mapping error naming rule, attribute, field, type and
what was found; never a command carrying ``str(dict)``. Bad ``type`` declarations fail when the rules load."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xstream.errors import ConfigError, DeadLetterReason, MappingError
from xstream.model.change import ChangeEvent, Op, SourceInfo
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace
from xstream.model.record import RecordRef
from xstream.transform.rule_files import RULES_DIR, load_rule_files
from xstream.transform.rules import Rule, parse_rules
from xstream.transform.value_types import FOUND_MAX, ValueType, WrongType
from xstream.transform.workspace_mapping import map_change

TYPED = """\
version: 1
rules:
  - name: erp-cases
    source: {system: erp, topics: [erp.cdc.cases], entity: cases}
    business_object: {ext_system_id: SAP, bo_type: CASE, bo_id: "{case_id}"}
    workspace:
      type: Case
      name: "{title} ({case_id})"
      description: "case {case_id}"
      parent_path: "{region}"
    categories:
      Case:
        Case Number: case_id
        Description: {field: summary, max_length: 40}
        Amount: {field: amount, type: decimal}
        Items: {field: item_count, type: integer}
        Urgent: {field: prio_flag, type: boolean}
        Opened: {field: opened_on, type: date}
        Closed: {field: closed_at, type: date, epoch: ms}
        Owner: {field: owner, type: user}
        Tags: {field: tags, type: string, multi_value: true}
        Level:
          field: level
          type: integer
          map: {low: 1, high: "3"}
          default: 2
        Status: {field: status, default: open}
    on_delete:
      set: {Case: {Status: closed, Items: "0"}}
"""
RULE = parse_rules(TYPED, "typed.yaml").rules[0]
ROW: dict[str, Any] = {"case_id": "C-1", "title": "Broken pump", "region": "North", "summary": "leaks",
                       "amount": "1200.50", "item_count": "3", "prio_flag": 1, "opened_on": 20148,
                       "closed_at": 1_740_826_800_000, "owner": "j.doe", "tags": ["pump", 7], "level": "high",
                       "status": None}


def event(row: dict[str, Any], op: Op = Op.CREATE, before: dict[str, Any] | None = None) -> ChangeEvent:
    return ChangeEvent(entity="cases", op=op, key={"case_id": "C-1"},
                       before=row if op is Op.DELETE else before, after=None if op is Op.DELETE else row,
                       source=SourceInfo(table="cases", position="lsn:1"),
                       record=RecordRef(topic="erp.cdc.cases", partition=0, offset=1))


def refusal(row: dict[str, Any], rule: Rule = RULE, op: Op = Op.CREATE) -> MappingError:
    with pytest.raises(MappingError) as caught:
        map_change(event(row, op, before=None), rule)
    return caught.value


def test_typed_values_are_coerced_losslessly() -> None:
    command = map_change(event(ROW), RULE)
    assert isinstance(command, EnsureWorkspace)
    assert command.name == "Broken pump (C-1)" and command.parent_path == "North"
    assert command.categories["Case"] == {
        "Case Number": "C-1", "Description": "leaks", "Amount": 1200.5, "Items": 3, "Urgent": True,
        "Opened": "2025-03-01", "Closed": "2025-03-01", "Owner": "j.doe", "Tags": ["pump", "7"], "Level": 3,
        "Status": "open",
    }


def test_a_multi_value_attribute_maps_and_checks_each_item() -> None:
    text = TYPED.replace("Tags: {field: tags, type: string, multi_value: true}",
                         "Tags: {field: tags, type: integer, multi_value: true, map: {low: 1, high: 3}}")
    rule = parse_rules(text, "typed.yaml").rules[0]
    command = map_change(event({**ROW, "tags": ["low", "high", "7"]}), rule)  # unmapped items pass through
    assert isinstance(command, EnsureWorkspace) and command.categories["Case"]["Tags"] == [1, 3, 7]
    assert map_change(event({**ROW, "tags": "high"}), rule).categories["Case"]["Tags"] == [3]  # type: ignore[union-attr]
    for wrong in (["low", {"x": 1}], ["low", "other"]):
        error = refusal({**ROW, "tags": wrong}, rule)
        assert error.reason is DeadLetterReason.WRONG_TYPE
        assert "Case.Tags (field 'tags'): expected list of integer" in error.detail


def test_an_object_in_a_name_is_wrong_type_not_its_repr() -> None:
    error = refusal({**ROW, "title": {"first": "Ada", "last": "Lovelace"}})
    assert error.reason is DeadLetterReason.WRONG_TYPE
    assert error.detail == ("rule erp-cases: workspace.name: field 'title': expected text, number or boolean, "
                            'found object {"first":"Ada","last":"Lovelace"}')


@pytest.mark.parametrize(("field", "where"), [
    ("case_id", "business_object.bo_id"), ("region", "workspace.parent_path"),
])
def test_every_template_refuses_objects_and_arrays(field: str, where: str) -> None:
    error = refusal({**ROW, field: ["a", "b"]})
    assert error.reason is DeadLetterReason.WRONG_TYPE and f"{where}: field {field!r}" in error.detail


def test_a_wrong_typed_attribute_names_rule_attribute_field_type_and_value() -> None:
    error = refusal({**ROW, "item_count": "three"})
    assert error.reason is DeadLetterReason.WRONG_TYPE
    assert error.detail == 'rule erp-cases: Case.Items (field \'item_count\'): expected integer, found text "three"'


def test_a_large_value_is_bounded_in_the_detail() -> None:
    error = refusal({**ROW, "summary": {"text": "x" * 100_000}})
    assert "Case.Description (field 'summary'): expected string of at most 40 characters" in error.detail
    assert len(error.detail) < 200 + FOUND_MAX


def test_too_long_text_is_refused_never_cut() -> None:
    error = refusal({**ROW, "summary": "y" * 41})
    assert error.reason is DeadLetterReason.WRONG_TYPE and "(41 characters)" in error.detail


def test_a_value_map_or_default_cannot_hide_an_object() -> None:
    error = refusal({**ROW, "level": {"low": 1}})  # unmapped values fall back to the default 2: not an object
    assert error.reason is DeadLetterReason.WRONG_TYPE and "Case.Level (field 'level')" in error.detail
    suppliers = load_rule_files([RULES_DIR / "erp_suppliers.yaml"]).rules[0]  # Region: map with default Other
    row = {"supplier_id": "1", "name": "Initech", "purchaser": "k.tanaka", "country": {"iso": "DE"}}
    with pytest.raises(MappingError) as caught:
        map_change(event(row).model_copy(update={"entity": "suppliers"}), suppliers)
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE and "Supplier.Region (field 'country')" in caught.value.detail


def test_an_integer_for_a_text_attribute_becomes_its_text() -> None:
    command = map_change(event({**ROW, "case_id": 42, "summary": 7}), RULE)
    assert isinstance(command, EnsureWorkspace)
    assert command.business_object.bo_id == "42" and command.categories["Case"]["Case Number"] == "42"
    assert command.categories["Case"]["Description"] == "7"


def test_a_boolean_for_a_text_attribute_is_refused() -> None:
    error = refusal({**ROW, "summary": True})
    assert error.detail.endswith("expected string of at most 40 characters, found boolean true")


def test_nulls_keep_their_meaning() -> None:
    row = {**ROW, "amount": None, "level": None, "tags": None, "owner": ""}
    command = map_change(event(row), RULE)
    assert isinstance(command, EnsureWorkspace)
    values = command.categories["Case"]
    assert "Amount" not in values and "Tags" not in values and "Owner" not in values  # no value: not sent
    assert values["Level"] == 2  # the default applies
    update = map_change(event(row, Op.UPDATE, before=ROW), RULE)
    assert isinstance(update, UpdateWorkspace)
    assert update.changed["Case"]["Amount"] is None and update.changed["Case"]["Owner"] is None  # cleared


def test_an_update_from_a_wrong_typed_old_row_counts_as_changed_and_a_wrong_new_row_is_refused() -> None:
    update = map_change(event(ROW, Op.UPDATE, before={**ROW, "item_count": {"n": 3}}), RULE)
    assert isinstance(update, UpdateWorkspace) and update.changed == {"Case": {"Items": 3}}
    with pytest.raises(MappingError) as caught:
        map_change(event({**ROW, "item_count": [3]}, Op.UPDATE, before=ROW), RULE)
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE


def test_a_delete_sets_typed_values_and_survives_a_wrong_typed_name() -> None:
    command = map_change(event({**ROW, "title": {"x": 1}}, Op.DELETE), RULE)
    assert isinstance(command, UpdateWorkspace)
    assert command.changed == {"Case": {"Status": "closed", "Items": 0}}
    assert command.name == "C-1"  # the name falls back to the business object id
    error = refusal({**ROW, "case_id": {"x": 1}}, op=Op.DELETE)
    assert error.reason is DeadLetterReason.WRONG_TYPE


BAD_TYPES = [
    ("type: decimal", "type: money",
     "typed.yaml:15: rules.0.categories.Case.Amount.type: Value error, unknown type 'money'; use one of string, "
     "integer, decimal, boolean, date, user"),
    ("type: decimal", "type: [decimal]", "rules.0.categories.Case.Amount.type: Value error, unknown type ['decimal']"),
    ("{field: amount, type: decimal}", "{field: amount, type: decimal, max_length: 5}",
     "typed.yaml:15: rules.0.categories.Case.Amount: Value error, max_length applies to type string or user, not decimal"),
    ("{field: summary, max_length: 40}", "{field: summary, max_length: 0}",
     "typed.yaml:14: rules.0.categories.Case.Description.max_length: Input should be greater than or equal to 1"),
    ("{field: opened_on, type: date}", "{field: opened_on, epoch: ms}",
     "typed.yaml:18: rules.0.categories.Case.Opened: Value error, epoch applies to type date, not string"),
    ("epoch: ms}", "epoch: s}", "typed.yaml:19: rules.0.categories.Case.Closed.epoch: Value error, unknown epoch unit 's'"),
    ("default: 2", "default: two",
     "typed.yaml:22: rules.0.categories.Case.Level: Value error, default: expected integer, found text \"two\""),
    ('high: "3"}', 'high: "3.5"}',
     "typed.yaml:22: rules.0.categories.Case.Level: Value error, map 'high': expected integer, found text \"3.5\""),
    ("{field: status, default: open}", "{value: true}",
     "typed.yaml:27: rules.0.categories.Case.Status: Value error, value: expected string, found boolean true"),
    ('Items: "0"', "Items: none",
     "typed.yaml:3: rules.0: Value error, on_delete sets Case.Items to 'none': expected integer, found text \"none\""),
    ('Items: "0"', "Items: {n: 0}", "rules.0.on_delete: Value error, on_delete.set: Case.Items is set to an object"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD_TYPES)
def test_bad_type_declarations_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in TYPED
    with pytest.raises(ConfigError) as caught:
        parse_rules(TYPED.replace(old, new, 1), "typed.yaml")
    assert expected in str(caught.value), str(caught.value)


def test_the_default_on_delete_must_fit_a_typed_status() -> None:
    text = TYPED.replace("{field: status, default: open}", "{field: status, type: integer}").replace(
        "    on_delete:\n      set: {Case: {Status: closed, Items: \"0\"}}\n", "")
    with pytest.raises(ConfigError, match=r"the default on_delete \(give on_delete\) sets Case.Status to 'deleted'"):
        parse_rules(text, "typed.yaml")


def test_shipped_rules_type_their_owners_as_users() -> None:
    rules = load_rule_files(sorted(p for p in RULES_DIR.glob("*.yaml") if p.name != "opentext_catalog.yaml"))
    for rule in rules.rules:
        (category,) = rule.categories.values()
        assert category["Owner"].type == "user", rule.name
        assert {spec.type for name, spec in category.items() if name != "Owner"} == {"string"}, rule.name


# --- property: random JSON in every mapped field never yields a mistyped command ------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12) \
    | st.sampled_from(["42", " -7 ", "12.50", "true", "0", "2025-03-01", "2025-03-01T10:00:00Z", "j.doe", "{x}", "'"])
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=12)
texts = st.text(alphabet=st.sampled_from("ab Z9{}'\"é-_"), max_size=12)
FITTING = {  # values of the right type (or text that converts losslessly), so that commands are made too
    "case_id": st.text(alphabet="ABC-09{}'", min_size=1, max_size=8) | st.integers(0, 10**9),
    "title": texts | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
    "region": texts, "summary": texts | st.integers(-999, 999), "status": texts,
    "amount": st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["12.50", "-0.1", "1e3"]),
    "item_count": st.integers(-(2**31), 2**31 - 1) | st.sampled_from(["42", " -7 ", 3.0]),
    "prio_flag": st.booleans() | st.sampled_from([0, 1, "true", "FALSE", "1"]),
    "opened_on": st.integers(-700_000, 2_900_000) | st.sampled_from(["2025-03-01", "2025-03-01T23:30:00-05:00"]),
    "closed_at": st.integers(0, 2**45) | st.just("2025-03-01"),
    "owner": st.sampled_from(["j.doe", "a@example.com", "", 1001]),
    "tags": st.lists(texts | st.integers(-5, 5), max_size=3),
    "level": st.sampled_from(["low", "high", 1, "2"]),
}
MAPPED = sorted(FITTING)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    """Fitting values in most fields, random JSON (or nothing) in a few: refusals and commands both happen."""
    spoilt = draw(st.sets(st.sampled_from(MAPPED), max_size=3))
    row = {f: draw(json_values) if f in spoilt else draw(FITTING[f]) for f in MAPPED}
    return {f: v for f, v in row.items() if not (f in spoilt and draw(st.booleans()))}


def _fits(expected: ValueType, value: Any) -> bool:
    if expected.multi_value:
        return isinstance(value, list) and all(_fits(ValueType(expected.type, expected.max_length), v) for v in value)
    checks = {
        "string": lambda v: isinstance(v, str) and (expected.max_length is None or len(v) <= expected.max_length),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
        "decimal": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
        "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, str) and len(v) == 10 and v[4] == v[7] == "-",
        "user": lambda v: (isinstance(v, int) and not isinstance(v, bool) and v > 0) or (isinstance(v, str) and v.strip() == v != ""),
    }
    return bool(checks[expected.type](value))


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, float) \
        else str(value)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(row=rows(), op=st.sampled_from([Op.CREATE, Op.READ, Op.UPDATE]), before=rows())
def test_random_json_rows_map_to_fitting_values_or_a_typed_refusal(row: dict, op: Op, before: dict) -> None:
    try:
        outcome = map_change(event(row, op, before=before if op is Op.UPDATE else None), RULE)
    except MappingError as exc:
        assert exc.reason in (DeadLetterReason.WRONG_TYPE, DeadLetterReason.MISSING_FIELD), exc
        assert len(exc.detail) < 300
        return
    except WrongType as exc:  # pragma: no cover - the failure this test exists to find
        raise AssertionError(f"WrongType escaped map_change: {exc}") from exc
    if not isinstance(outcome, EnsureWorkspace | UpdateWorkspace):
        return  # no mapped change
    values = {**outcome.categories.get("Case", {}),
              **(outcome.changed.get("Case", {}) if isinstance(outcome, UpdateWorkspace) else {})}
    for attr, value in values.items():
        spec = RULE.categories["Case"][attr]
        assert value is None or _fits(spec.value_type, value), (attr, value)
    # the name and description are the row's scalars as text: no repr of an object or array in them
    assert outcome.name == f"{_text(row['title'])} ({_text(row['case_id'])})"
    assert outcome.description == f"case {_text(row['case_id'])}"
    assert outcome.business_object.bo_id == _text(row["case_id"]).strip()
