"""Status rules are validated at start: every mistake is reported with its file, line and field."""

from __future__ import annotations

import pytest

from xstream.errors import ConfigError
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files
from xstream.transform.status_rules import StatusRuleSet, parse_status_rule_sources

GOOD = """
version: 1
status_rules:
  - name: signed
    when: {workspace_types: Supplier, document_types: [Contract], status: {to: Signed}}
    then:
      - update_record: {target: erp, entity: suppliers, fields: {contract_status: signed}}
      - notify: {target: chat, channel: procurement, title: "Signed: {document_name}"}
"""


def parse(*texts: str) -> StatusRuleSet:
    return parse_status_rule_sources([(f"r{i}.yaml", t) for i, t in enumerate(texts)])


def problems(*texts: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(*texts)
    return str(caught.value)


def test_the_shipped_samples_load_and_name_their_targets_channels_and_workspace_types() -> None:
    samples = load_status_rule_files([STATUS_RULES_DIR])
    assert samples.targets() == {"erp": {"start_approval", "update_record", "lock_version"}, "chat": {"notify"}}
    assert samples.fixed_channels() == {"chat": {"commercial", "procurement", "legal"}}
    assert samples.workspace_types() == ["Customer", "Supplier"]


def test_a_single_value_may_stand_for_a_list() -> None:
    (rule,) = parse(GOOD).rules
    assert rule.when.workspace_types == ["Supplier"] and rule.when.status is not None
    assert rule.when.status.to == ["Signed"] and rule.attributes.status.attribute == "Status"


@pytest.mark.parametrize(("snippet", "line", "message"), [
    ("    when: {status: {to: Signed}, workflow: {name: X}}\n", 4,
     "status_rules.0.when: Value error, a rule reacts to either 'status'"),
    ("    when: {}\n", 4, "a rule reacts to either 'status' (a status reached) or 'workflow'"),
    ("    when: {status: {to: Signed, from: [Signed]}}\n", 4, "a status in both 'from' and 'to' is no change"),
    ("    when: {events: [workflow.finished], status: {to: Signed}}\n", 4, "'events' narrows status rules"),
    ("    when: {status: {to: []}}\n", 4, "status_rules.0.when.status.to: Value should have at least 1 item"),
    ("    when: {workflow: {outcome: approved}}\n", 4, "status_rules.0.when.workflow.outcome.0: Input should be"),
])
def test_when_mistakes_are_reported_with_line_and_field(snippet: str, line: int, message: str) -> None:
    text = f"version: 1\nstatus_rules:\n  - name: x\n{snippet}    then: [{{notify: {{target: chat, channel: a, title: t}}}}]\n"
    found = problems(text)
    assert f"r0.yaml:{line}: " in found and message in found


@pytest.mark.parametrize(("action", "message"), [
    ("{notify: {target: chat, channel: a, title: 'x {nope}'}}", "unknown placeholder {nope}"),
    ("{notify: {target: chat, channel: a, title: 'x {vendor.Name}'}}", "qualified ones are"),
    ("{update_record: {target: erp, entity: e, fields: {}}}", "fields: Dictionary should have at least 1 item"),
    ("{update_record: {target: erp, entity: e, fields: {a: '{bad}'}}}", "unknown placeholder {bad}"),
    ("{notify: {target: chat, channel: a, title: t}, update_record: {target: erp, entity: e, fields: {a: 1}}}",
     "an action is exactly one of start_approval, update_record, notify, lock_version (got update_record, notify)"),
    ("{start_approval: {target: erp, subject: s}}", "start_approval.process: Field required"),
    ("{delete_everything: {}}", "delete_everything: Extra inputs are not permitted"),
])
def test_action_mistakes_are_reported(action: str, message: str) -> None:
    text = f"version: 1\nstatus_rules:\n  - name: x\n    when: {{status: {{to: S}}}}\n    then:\n      - {action}\n"
    found = problems(text)
    assert "r0.yaml:6: status_rules.0.then.0" in found and message in found


def test_rule_names_are_unique_across_files() -> None:
    found = problems(GOOD, GOOD)
    assert "r1.yaml:4: status_rules.0: rule names must be unique: signed is also defined at r0.yaml:4" in found


def test_not_yaml_and_an_empty_file_set_are_config_errors() -> None:
    assert "not valid YAML" in problems("version: 1\nstatus_rules: [\n")
    with pytest.raises(ConfigError, match="no status rules"):
        parse_status_rule_sources([])
    assert "status_rules: Field required" in problems("version: 1\n")


def test_a_rule_that_looks_at_every_workspace_type_makes_the_set_watch_every_type() -> None:
    anywhere = GOOD.replace("workspace_types: Supplier, ", "").replace("name: signed", "name: anywhere")
    assert parse(GOOD, anywhere).workspace_types() is None
    templated = GOOD.replace("channel: procurement", 'channel: "{workspace.Region}"')
    assert parse(templated).fixed_channels() == {}
