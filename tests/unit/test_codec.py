"""Decoding Debezium records: every shape users' connectors emit, and a typed reason for everything else."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.codec import decode_change, decode_key
from xstream.errors import DeadLetterReason, KeyDecodeError, ValueDecodeError
from xstream.model.change import ChangeEvent, Op, Tombstone
from xstream.model.record import RecordRef

REC = RecordRef(topic="erp.cdc.customers", partition=2, offset=41)
ROW = {"customer_id": "0000100001", "name": "Acme"}


def envelope(op: str = "c", *, before=None, after=ROW, source=None, **extra) -> dict:
    return {"op": op, "before": before, "after": after,
            "source": source or {"connector": "postgresql", "table": "customers", "lsn": 777, "snapshot": "false"},
            "ts_ms": 1_700_000_000_000, **extra}


def decode(value: dict | bytes | None, key: bytes | None = b'{"customer_id": "0000100001"}'):
    raw = orjson.dumps(value) if isinstance(value, dict) else value
    return decode_change(key, raw, REC, max_bytes=10_000)


@pytest.mark.parametrize("op", ["c", "u", "r"])
def test_bare_envelope_ops_decode_to_change_events(op: str) -> None:
    event = decode(envelope(op, before=ROW if op == "u" else None))
    assert isinstance(event, ChangeEvent)
    assert event.op == Op(op)
    assert event.after == ROW
    assert event.entity == "customers"
    assert event.key == {"customer_id": "0000100001"}
    assert event.position == "lsn:777"


def test_schema_payload_wrapper_is_unwrapped_for_value_and_key() -> None:
    wrapped = {"schema": {"type": "struct"}, "payload": envelope("c")}
    key = orjson.dumps({"schema": {"type": "struct"}, "payload": {"customer_id": "0000100001"}})
    event = decode(wrapped, key)
    assert isinstance(event, ChangeEvent)
    assert event.after == ROW and event.key == {"customer_id": "0000100001"}


def test_null_value_is_a_tombstone_not_an_error() -> None:
    event = decode(None)
    assert isinstance(event, Tombstone)
    assert event.key == {"customer_id": "0000100001"}


def test_wrapped_null_payload_is_a_tombstone() -> None:
    assert isinstance(decode({"schema": {}, "payload": None}), Tombstone)


def test_delete_keeps_the_old_row() -> None:
    event = decode(envelope("d", before=ROW, after=None))
    assert isinstance(event, ChangeEvent)
    assert event.op is Op.DELETE and event.row == ROW


def test_snapshot_flag_and_positions_of_other_connectors() -> None:
    mysql = decode(envelope("r", source={"connector": "mysql", "table": "customers", "file": "bin.000003",
                                        "pos": 154, "row": 2, "snapshot": "true"}))
    assert isinstance(mysql, ChangeEvent)
    assert mysql.source.snapshot and mysql.position == "binlog:bin.000003:154:2"
    oracle = decode(envelope("c", source={"connector": "oracle", "table": "CUSTOMERS", "scn": "9911",
                                         "commit_scn": "9912"}))
    assert isinstance(oracle, ChangeEvent) and oracle.position == "scn:9911:9912"
    mssql = decode(envelope("c", source={"connector": "sqlserver", "table": "customers",
                                        "change_lsn": "00000027:00000758:0003", "commit_lsn": "00000027:00000758:0005"}))
    assert isinstance(mssql, ChangeEvent) and mssql.position.startswith("mssql:00000027:00000758:0005")


def test_without_a_source_position_kafka_coordinates_make_the_position() -> None:
    event = decode(envelope("c", source={"table": "customers"}))
    assert isinstance(event, ChangeEvent)
    assert event.position == "kafka:erp.cdc.customers/2@41"


def test_debezium2_microsecond_and_nanosecond_timestamps() -> None:
    doc = envelope("c")
    del doc["ts_ms"]
    event = decode({**doc, "ts_us": 1_700_000_000_000_123})
    assert isinstance(event, ChangeEvent) and event.ts_ms == 1_700_000_000_000
    event = decode({**doc, "ts_ns": 1_700_000_000_000_123_456})
    assert isinstance(event, ChangeEvent) and event.ts_ms == 1_700_000_000_000


def test_transaction_id_is_kept() -> None:
    event = decode(envelope("c", transaction={"id": "571:53195832", "total_order": 1}))
    assert isinstance(event, ChangeEvent) and event.transaction_id == "571:53195832"


def test_flattened_rows_from_extract_new_record_state() -> None:
    row = {**ROW, "__op": "u", "__table": "customers", "__lsn": 99, "__source_ts_ms": 1700000000000, "__deleted": "false"}
    event = decode(row)
    assert isinstance(event, ChangeEvent)
    assert event.op is Op.UPDATE and event.after == ROW and event.position == "lsn:99"
    deleted = decode({**row, "__deleted": "true"})
    assert isinstance(deleted, ChangeEvent) and deleted.op is Op.DELETE and deleted.before == ROW


def test_scalar_and_missing_keys() -> None:
    assert decode_key(b'"0000100001"') == {"id": "0000100001"}
    assert decode_key(None) is None
    assert decode_key(b"") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"op": "c", "after": ', DeadLetterReason.MALFORMED_JSON),
        (b"[1, 2]", DeadLetterReason.WRONG_ENVELOPE),
        (b'{"id": 1, "name": "no envelope"}', DeadLetterReason.WRONG_ENVELOPE),
        (orjson.dumps(envelope("z")), DeadLetterReason.UNKNOWN_OP),
        (orjson.dumps(envelope("t")), DeadLetterReason.UNKNOWN_OP),
        (orjson.dumps(envelope("c", after=None)), DeadLetterReason.MISSING_FIELD),
        (orjson.dumps(envelope("c", after="not a row")), DeadLetterReason.WRONG_ENVELOPE),
        (b'{"op": "c", "after": {"pad": "' + b"x" * 20_000 + b'"}}', DeadLetterReason.OVERSIZE),
    ],
)
def test_bad_values_raise_value_decode_errors_with_a_reason(value: bytes, reason: DeadLetterReason) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode(value)
    assert caught.value.reason is reason
    assert caught.value.detail


def test_bad_keys_raise_key_decode_errors() -> None:
    with pytest.raises(KeyDecodeError) as caught:
        decode(envelope("c"), key=b"{not json")
    assert caught.value.reason is DeadLetterReason.KEY_UNDECODABLE
    with pytest.raises(KeyDecodeError):
        decode(envelope("c"), key=b"[1, 2]")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_decode_errors(blob: bytes) -> None:
    try:
        decode(blob)
    except (KeyDecodeError, ValueDecodeError):
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@given(op=st.sampled_from(["c", "u", "d", "r", "t", "x", None, 1]) | json_values, before=json_values, after=json_values,
       source=json_values, wrapped=st.booleans())
def test_arbitrary_envelopes_decode_or_fail_typed(op, before, after, source, wrapped) -> None:
    doc = {"op": op, "before": before, "after": after, "source": source}
    try:
        event = decode({"schema": {}, "payload": doc} if wrapped else doc)
    except ValueDecodeError:
        return
    assert isinstance(event, ChangeEvent)
    assert event.op.value == op


@pytest.mark.parametrize(
    "doc",
    [
        envelope(["c"]),  # unhashable op
        envelope("c", source={"table": 5, "connector": ["pg"], "lsn": 1}),
        {"__op": "c", "__table": {"x": 1}, "customer_id": "1"},
    ],
)
def test_fields_of_the_wrong_json_type_are_wrong_envelopes(doc: dict) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode(doc)
    assert caught.value.reason in (DeadLetterReason.WRONG_ENVELOPE, DeadLetterReason.UNKNOWN_OP)
