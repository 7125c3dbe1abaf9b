"""The CDC echo of xstream's own write into a source record is recognised, so it is dropped, not re-applied."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from xstream.model.change import ChangeEvent, Op, SourceInfo
from xstream.model.record import RecordRef
from xstream.pipeline import Emit, Skip, process_cdc
from xstream.transform.echo import changed_fields, echo_reason
from xstream.transform.rule_files import RULES_DIR, load_rule_files

RULES = load_rule_files([RULES_DIR])
CUSTOMERS = RULES.match("erp.cdc.customers", "customers")
SUPPLIERS = RULES.match("erp.cdc.suppliers", "suppliers")
ROW = {"customer_id": "0000100007", "name": "Globex", "owner": "j.doe", "region": "EMEA", "status": "active",
       "workspace_id": None, "workspace_url": None}


def update(before: dict | None, after: dict) -> ChangeEvent:
    return ChangeEvent(entity="customers", op=Op.UPDATE, key={"customer_id": "0000100007"}, before=before,
                       after=after, source=SourceInfo(table="customers", position="lsn:1"),
                       record=RecordRef(topic="erp.cdc.customers", partition=0, offset=1))


def test_an_update_of_only_the_linked_fields_is_an_echo() -> None:
    assert CUSTOMERS is not None
    linked = {**ROW, "workspace_id": "100001", "workspace_url": "http://ot/100001"}
    reason = echo_reason(update(ROW, linked), CUSTOMERS)
    assert reason is not None and reason.startswith("echo: only fields xstream writes changed")


def test_an_update_that_also_changes_other_fields_is_not_an_echo() -> None:
    assert CUSTOMERS is not None
    both = {**ROW, "workspace_id": "100001", "owner": "m.rossi"}
    assert echo_reason(update(ROW, both), CUSTOMERS) is None


def test_without_before_only_the_origin_field_can_tell() -> None:
    assert CUSTOMERS is not None and SUPPLIERS is not None
    assert echo_reason(update(None, {**ROW, "workspace_id": "1"}), CUSTOMERS) is None
    supplier = {"supplier_id": "1", "name": "S", "last_changed_by": "xstream"}
    reason = echo_reason(update(None, supplier), SUPPLIERS)
    assert reason is not None and reason.startswith("echo: last_changed_by is 'xstream'")
    assert echo_reason(update(None, {**supplier, "last_changed_by": "a.schmidt"}), SUPPLIERS) is None


def test_creates_and_deletes_are_never_echoes() -> None:
    assert CUSTOMERS is not None
    event = update(ROW, {**ROW, "workspace_id": "1"})
    assert echo_reason(event.model_copy(update={"op": Op.CREATE}), CUSTOMERS) is None


def test_the_pipeline_skips_an_echo_and_flags_it() -> None:
    value = orjson.dumps({"op": "u", "before": ROW, "after": {**ROW, "workspace_url": "http://ot/1"},
                          "source": {"table": "customers", "lsn": 5}})
    outcome = process_cdc(b'{"customer_id": "0000100007"}', value,
                          RecordRef(topic="erp.cdc.customers", partition=0, offset=9), RULES, max_bytes=10_000)
    assert isinstance(outcome, Skip) and outcome.echo and outcome.why.startswith("echo")
    value = orjson.dumps({"op": "u", "before": ROW, "after": {**ROW, "owner": "x"},
                          "source": {"table": "customers", "lsn": 6}})
    assert isinstance(process_cdc(None, value, RecordRef(topic="erp.cdc.customers", partition=0, offset=10), RULES,
                                  max_bytes=10_000), Emit)


fields = st.sampled_from(["workspace_id", "workspace_url", "owner", "status", "name", "other"])
vals = st.none() | st.sampled_from(["a", "b", "c"])


@given(before=st.dictionaries(fields, vals), after=st.dictionaries(fields, vals))
def test_echo_iff_the_changed_fields_are_within_the_echo_fields(before: dict, after: dict) -> None:
    assert CUSTOMERS is not None
    changed = {k for k in set(before) | set(after) if before.get(k, "<absent>") != after.get(k, "<absent>")}
    assert changed_fields(before, after) == changed
    is_echo = echo_reason(update(before, after), CUSTOMERS) is not None
    assert is_echo == (bool(changed) and changed <= {"workspace_id", "workspace_url"})
