"""Mapping a change event to an ensure_workspace command, and the idempotency key users rely on for replays."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.app import SAMPLE_RULES
from xstream.errors import DeadLetterReason, MappingError
from xstream.model.change import ChangeEvent, Op, SourceInfo
from xstream.model.commands import idempotency_key
from xstream.model.record import RecordRef
from xstream.transform.rules import parse_rules
from xstream.transform.workspace_mapping import map_to_workspace

RULE = parse_rules(SAMPLE_RULES.read_text(), "sample").rules[0]
ROW = {"customer_id": "0000100007", "name": "Globex 007", "owner": "j.doe", "region": "EMEA", "status": None}


def event(op: Op = Op.CREATE, row: dict | None = None, *, lsn: int = 10, offset: int = 5) -> ChangeEvent:
    row = ROW if row is None else row
    return ChangeEvent(entity="customers", op=op, key={"customer_id": row.get("customer_id")},
                       before=row if op is Op.DELETE else None, after=None if op is Op.DELETE else row,
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


def test_delete_produces_no_command() -> None:
    assert map_to_workspace(event(Op.DELETE), RULE) is None


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
