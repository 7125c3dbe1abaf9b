"""Mapping a change event to a workspace command (ensure on create, only the changed attributes on update, a
status on delete), and the idempotency key users rely on for replays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.change import ChangeEvent, Op, SourceInfo
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace, idempotency_key
from xstream.model.record import RecordRef
from xstream.transform.rule_files import SAMPLE_RULES
from xstream.transform.rules import Rule, parse_rules
from xstream.transform.workspace_mapping import NoCommand, changed_values, map_change, map_to_workspace

RULE = parse_rules(SAMPLE_RULES.read_text(), "sample").rules[0]
ROW = {"customer_id": "0000100007", "name": "Globex 007", "owner": "j.doe", "region": "EMEA", "status": None}


def event(op: Op = Op.CREATE, row: dict | None = None, *, lsn: int = 10, offset: int = 5,
          before: dict | None = None) -> ChangeEvent:
    row = ROW if row is None else row
    return ChangeEvent(entity="customers", op=op, key={"customer_id": row.get("customer_id")},
                       before=row if op is Op.DELETE else before, after=None if op is Op.DELETE else row,
                       source=SourceInfo(table="customers", position=f"lsn:{lsn}"),
                       record=RecordRef(topic="erp.cdc.customers", partition=1, offset=offset))


def test_create_maps_to_ensure_workspace_prefilled_from_the_record() -> None:
    command = map_to_workspace(event(), RULE)
    assert command is not None
    assert command.business_object.kafka_key == "SAP_PRD/KNA1/0000100007"
    assert command.workspace_type == "Customer" and command.template == "Customer Template"
    assert command.name == "Globex 007 (0000100007)"
    assert command.categories == {"Customer": {"Account Number": "0000100007", "Customer Name": "Globex 007",
                                               "Owner": "j.doe", "Region": "Europe", "Status": "active"}}
    assert command.causation.op == "c" and command.causation.source_position == "lsn:10"


def test_unmapped_value_passes_through() -> None:
    command = map_to_workspace(event(row={**ROW, "region": "LATAM"}), RULE)
    assert command is not None and command.categories["Customer"]["Region"] == "LATAM"


def test_delete_marks_the_workspace_and_never_creates_one() -> None:
    command = map_change(event(Op.DELETE), RULE)
    assert isinstance(command, UpdateWorkspace)
    assert command.changed == {"Customer": {"Status": "deleted"}}
    assert command.create_if_absent is False and command.categories == {}
    assert command.causation.op == "d"


def test_delete_with_only_the_key_still_marks_the_workspace() -> None:
    # REPLICA IDENTITY DEFAULT / a tombstone-like delete: no old row beyond the key
    gone = ChangeEvent(entity="customers", op=Op.DELETE, key={"customer_id": "0000100007"}, before=None,
                       source=SourceInfo(table="customers", position="lsn:99"),
                       record=RecordRef(topic="erp.cdc.customers", partition=0, offset=1))
    command = map_change(gone, RULE)
    assert isinstance(command, UpdateWorkspace) and command.business_object.bo_id == "0000100007"
    assert command.name == "0000100007"  # the name template needs fields the delete does not carry


def test_on_delete_ignore_gives_no_command() -> None:
    ignoring = Rule.model_validate({**RULE.model_dump(by_alias=True, exclude_none=True), "on_delete": "ignore"})
    outcome = map_change(event(Op.DELETE), ignoring)
    assert isinstance(outcome, NoCommand) and "on_delete: ignore" in outcome.why
    assert map_to_workspace(event(Op.DELETE), ignoring) is None


def test_update_sends_only_the_changed_attributes_and_keeps_the_full_metadata_for_a_create() -> None:
    after = {**ROW, "owner": "m.rossi", "note": "unmapped columns do not count"}
    command = map_change(event(Op.UPDATE, after, before=ROW), RULE)
    assert isinstance(command, UpdateWorkspace)
    assert command.changed == {"Customer": {"Owner": "m.rossi"}}
    assert command.categories["Customer"]["Account Number"] == "0000100007"
    assert command.create_if_absent is True


def test_update_without_before_counts_every_mapped_attribute_as_changed() -> None:
    command = map_change(event(Op.UPDATE, ROW), RULE)
    assert isinstance(command, UpdateWorkspace)
    assert command.changed == {"Customer": {"Account Number": "0000100007", "Customer Name": "Globex 007",
                                            "Owner": "j.doe", "Region": "Europe", "Status": "active"}}


def test_update_of_unmapped_fields_only_is_no_command() -> None:
    outcome = map_change(event(Op.UPDATE, {**ROW, "note": "x"}, before=ROW), RULE)
    assert isinstance(outcome, NoCommand) and outcome.why.startswith("no mapped attribute changed")


def test_a_change_that_maps_to_the_same_value_is_no_change() -> None:
    # status None -> "active" and the default is "active": the workspace shows the same either way
    outcome = map_change(event(Op.UPDATE, {**ROW, "status": "active"}, before=ROW), RULE)
    assert isinstance(outcome, NoCommand)


def test_a_false_condition_is_no_command_for_every_op() -> None:
    rule = parse_rules(SAMPLE_RULES.read_text(), "sample").rules[0]
    cpd = {**ROW, "account_group": "CPD"}
    for op in (Op.CREATE, Op.READ, Op.UPDATE, Op.DELETE):
        outcome = map_change(event(op, cpd, before=cpd if op is Op.UPDATE else None), rule)
        assert isinstance(outcome, NoCommand) and outcome.why.startswith("condition"), op


def test_command_kinds_at_the_same_position_have_different_keys() -> None:
    ensure = map_change(event(Op.CREATE), RULE)
    update = map_change(event(Op.UPDATE), RULE)
    delete = map_change(event(Op.DELETE), RULE)
    assert isinstance(ensure, EnsureWorkspace) and isinstance(update, UpdateWorkspace)
    assert isinstance(delete, UpdateWorkspace)
    assert len({ensure.idempotency_key, update.idempotency_key, delete.idempotency_key}) == 3


def test_missing_business_object_id_is_a_typed_mapping_error() -> None:
    with pytest.raises(MappingError) as caught:
        map_to_workspace(event(row={**ROW, "customer_id": None}), RULE)
    assert caught.value.reason is DeadLetterReason.MISSING_FIELD
    assert "customer_id" in caught.value.detail


def test_replay_gives_the_same_key_and_a_new_position_a_new_key() -> None:
    first, replay = map_to_workspace(event(), RULE), map_to_workspace(event(), RULE)
    later = map_to_workspace(event(lsn=11, offset=6), RULE)
    assert first is not None and replay is not None and later is not None
    assert first.idempotency_key == replay.idempotency_key
    assert later.idempotency_key != first.idempotency_key


@given(system=st.text(max_size=8), entity=st.text(max_size=8),
       key=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
       position=st.text(max_size=12), kind=st.sampled_from(["ensure_workspace", "upload_document"]))
def test_idempotency_key_is_a_pure_function_of_its_inputs(system, entity, key, position, kind) -> None:
    args = dict(source_system=system, entity=entity, key=key, position=position, command_kind=kind)
    assert idempotency_key(**args) == idempotency_key(**dict(args, key=dict(reversed(list(key.items())))))
    other_kind = "x" + kind
    assert idempotency_key(**args) != idempotency_key(**dict(args, command_kind=other_kind))


values = st.sampled_from(["EMEA", "AMER", "APAC", "LATAM", None, "", "x", 1, "1", 2.5])  # a boolean is wrong_type
owners = st.sampled_from(["j.doe", "m.rossi", None, "", 7])  # Owner is a user: a login name or a user id
rows = st.fixed_dictionaries({"customer_id": st.just("0000100007"), "name": st.sampled_from(["A", "B"])},
                             optional={"owner": owners, "region": values, "status": values, "note": values})


def _expected(rule: Rule, row: dict) -> dict:
    return map_change(event(Op.CREATE, row), rule).categories  # type: ignore[union-attr]


@given(before=rows, after=rows)
def test_changed_is_exactly_the_mapped_attributes_that_differ(before: dict, after: dict) -> None:
    changed = changed_values(RULE, before, after)
    flat_changed = {(c, a): v for c, attrs in changed.items() for a, v in attrs.items()}
    old, new = _expected(RULE, before), _expected(RULE, after)
    for category, attrs in RULE.categories.items():
        for attr in attrs:
            differs = old[category].get(attr) != new[category].get(attr)
            assert ((category, attr) in flat_changed) == differs
            if differs:
                assert flat_changed[(category, attr)] == new[category].get(attr)
    outcome = map_change(event(Op.UPDATE, after, before=before), RULE)
    if flat_changed:
        assert isinstance(outcome, UpdateWorkspace) and outcome.changed == changed
        assert outcome.create_categories == new  # a new workspace still gets the complete metadata
        carried = [(c, a) for c, attrs in outcome.categories.items() for a in attrs]
        assert not set(carried) & set(flat_changed)  # each value travels once
    else:
        assert isinstance(outcome, NoCommand)


@given(row=rows)
def test_without_before_every_mapped_attribute_is_changed(row: dict) -> None:
    changed = changed_values(RULE, None, row)
    assert {a for attrs in changed.values() for a in attrs} == set(RULE.categories["Customer"])


@given(row=rows, op=st.sampled_from(list(Op)))
def test_mapping_is_deterministic(row: dict, op: Op) -> None:
    assert map_change(event(op, row, before=row), RULE) == map_change(event(op, row, before=row), RULE)


def test_an_update_that_makes_the_row_meet_the_condition_creates_the_workspace() -> None:
    from xstream.model.commands import EnsureWorkspace as Ensure
    from xstream.transform.rule_files import load_rule_files

    rule = load_rule_files([SAMPLE_RULES]).rules[0]  # when: not account_group == CPD
    before = {**ROW, "status": "active", "account_group": "CPD"}
    after = {**before, "account_group": "KUNA"}  # leaves the one-time group; nothing mapped changed
    event = ChangeEvent(entity="customers", op=Op.UPDATE, key={"customer_id": ROW["customer_id"]}, before=before,
                        after=after, source=SourceInfo(table="customers", position="lsn:20"),
                        record=RecordRef(topic="erp.cdc.customers", partition=1, offset=9))
    assert isinstance(map_to_workspace(event, rule), Ensure)


def test_a_user_change_is_not_an_echo_even_when_the_origin_column_still_says_xstream() -> None:
    from xstream.transform.echo import echo_reason
    from xstream.transform.rule_files import load_rule_files

    rule = load_rule_files([SAMPLE_RULES]).rules[0]
    ours = {**ROW, "status": "active", "last_changed_by": "xstream", "workspace_url": "u1"}
    link_write = ChangeEvent(entity="customers", op=Op.UPDATE, key={}, before={**ours, "workspace_url": None},
                             after=ours, source=SourceInfo(table="customers", position="lsn:30"),
                             record=RecordRef(topic="erp.cdc.customers", partition=0, offset=1))
    assert echo_reason(link_write, rule) is not None
    user_change = link_write.model_copy(update={"before": ours, "after": {**ours, "status": "blocked"}})
    assert echo_reason(user_change, rule) is None
