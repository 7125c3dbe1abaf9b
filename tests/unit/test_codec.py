"""Decoding Debezium records: every shape users' connectors emit, and a typed reason for everything else."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from xstream.codec import MAX_COMMAND_NESTING, MAX_NESTING, decode_change, decode_command, decode_key, encode
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


# --- the complete Debezium surface: transaction blocks, source timestamps, flattened variants, positions ---


def test_transaction_block_is_kept_with_its_orders() -> None:
    event = decode(envelope("c", transaction={"id": "571:53195832", "total_order": 3, "data_collection_order": 2}))
    assert isinstance(event, ChangeEvent) and event.transaction is not None
    assert (event.transaction.id, event.transaction.total_order, event.transaction.data_collection_order) == (
        "571:53195832", 3, 2)
    assert decode(envelope("c", transaction=None)).transaction is None  # type: ignore[union-attr]


@pytest.mark.parametrize("block", [{"total_order": 1}, "571", {"id": "1", "total_order": "x"},
                                   {"id": "1", "data_collection_order": True}])
def test_a_malformed_transaction_block_is_a_wrong_envelope(block: object) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode(envelope("c", transaction=block))
    assert caught.value.reason is DeadLetterReason.WRONG_ENVELOPE and "transaction" in caught.value.detail


def test_source_timestamps_in_ms_us_and_ns() -> None:
    for field, value in (("ts_ms", 1_700_000_000_001), ("ts_us", 1_700_000_000_001_999),
                         ("ts_ns", 1_700_000_000_001_999_999)):
        event = decode(envelope("c", source={"connector": "postgresql", "table": "customers", "lsn": 1, field: value}))
        assert isinstance(event, ChangeEvent) and event.source.ts_ms == 1_700_000_000_001


def test_source_blocks_of_the_four_connectors() -> None:
    cases = {
        "lsn:24023128": {"connector": "postgresql", "db": "erp", "schema": "public", "table": "customers",
                         "txId": 555, "lsn": 24023128, "sequence": '["24023000","24023128"]'},
        "binlog:mysql-bin.000003:154:0": {"connector": "mysql", "db": "erp", "table": "customers",
                                          "server_id": 1, "file": "mysql-bin.000003", "pos": 154, "row": 0},
        "mssql:00000027:00000758:0005:00000027:00000758:0003": {
            "connector": "sqlserver", "db": "ERP", "schema": "dbo", "table": "customers",
            "change_lsn": "00000027:00000758:0003", "commit_lsn": "00000027:00000758:0005", "event_serial_no": 1},
        "scn:9911:9912": {"connector": "oracle", "db": "ORCLPDB1", "schema": "ERP", "table": "CUSTOMERS",
                          "scn": "9911", "commit_scn": "9912", "txId": "0a001b00"},
        "lsn:6000000000": {"connector": "postgresql", "table": "customers", "lsn": "1/65A0BC00"},
    }
    for position, source in cases.items():
        event = decode(envelope("c", source=source))
        assert isinstance(event, ChangeEvent) and event.position == position, source
        assert event.source.connector == source["connector"]


def test_oracle_without_commit_scn_and_sqlserver_without_commit_lsn() -> None:
    oracle = decode(envelope("c", source={"connector": "oracle", "table": "T", "scn": 5, "commit_scn": None}))
    assert isinstance(oracle, ChangeEvent) and oracle.position == "scn:5:"
    mssql = decode(envelope("c", source={"connector": "sqlserver", "table": "t", "change_lsn": "1:2:3"}))
    assert isinstance(mssql, ChangeEvent) and mssql.position == "mssql::1:2:3"


@pytest.mark.parametrize(
    "source",
    [
        {"table": "customers", "lsn": "not-an-lsn"},
        {"table": "customers", "lsn": True},
        {"table": "customers", "file": "bin.000003", "pos": "x"},
        {"table": "customers", "file": "", "pos": 4},
        {"table": "customers", "file": "bin.000003", "pos": 4, "row": -1},
        {"table": "customers", "change_lsn": "zz"},
        {"table": "customers", "scn": "12a"},
        {"table": "customers", "scn": "12", "commit_scn": "x"},
        "not a block",
    ],
)
def test_malformed_positions_and_source_blocks_are_wrong_envelopes(source: object) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode(envelope("c", source=source))
    assert caught.value.reason is DeadLetterReason.WRONG_ENVELOPE


def test_flattened_record_with_source_prefixed_fields_timestamps_and_transaction() -> None:
    row = {**ROW, "__op": "c", "__source_table": "customers", "__source_connector": "mysql",
           "__source_file": "mysql-bin.000007", "__source_pos": 99, "__source_row": 1, "__source_ts_ms": 1_700_000_000_001,
           "__ts_ms": 1_700_000_000_500, "__transaction_id": "tx-1", "__transaction_total_order": 2,
           "__source_snapshot": "last"}
    event = decode(row)
    assert isinstance(event, ChangeEvent)
    assert event.entity == "customers" and event.after == ROW and event.position == "binlog:mysql-bin.000007:99:1"
    assert event.ts_ms == 1_700_000_000_500 and event.source.ts_ms == 1_700_000_000_001
    assert event.source.snapshot and event.transaction is not None and event.transaction.total_order == 2
    only_source_ts = decode({**ROW, "__op": "u", "__source_ts_ms": "1700000000001"})
    assert isinstance(only_source_ts, ChangeEvent) and only_source_ts.ts_ms == 1_700_000_000_001


def test_flattened_delete_variants() -> None:
    by_op = decode({**ROW, "__op": "d", "__table": "customers"})
    assert isinstance(by_op, ChangeEvent) and by_op.op is Op.DELETE and by_op.before == ROW and by_op.after is None
    rewritten = decode({**ROW, "__deleted": True})  # boolean, as some converters emit it
    assert isinstance(rewritten, ChangeEvent) and rewritten.op is Op.DELETE
    without_op = decode({**ROW, "__deleted": "false"})
    assert isinstance(without_op, ChangeEvent) and without_op.op is Op.UPDATE  # an upsert, all values current


def test_a_flattened_row_with_a_column_named_op_is_still_a_row() -> None:
    event = decode({"customer_id": "1", "op": "manual", "__op": "c"})
    assert isinstance(event, ChangeEvent) and event.after == {"customer_id": "1", "op": "manual"}


def test_a_flattened_record_without_columns_is_a_missing_field() -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode({"__op": "c", "__table": "customers"})
    assert caught.value.reason is DeadLetterReason.MISSING_FIELD


def test_wrapped_scalar_keys_and_a_value_with_schema_and_payload_columns() -> None:
    assert decode_key(b'{"schema": {"type": "string"}, "payload": "0000100001"}') == {"id": "0000100001"}
    assert decode_key(b'{"schema": null, "payload": null}') is None
    # a bare row that happens to have columns "schema" and "payload" is not mistaken for the wrapper
    row = {"schema": "s", "payload": "p", "id": "1", "__op": "c"}
    event = decode(row)
    assert isinstance(event, ChangeEvent) and event.after == {"schema": "s", "payload": "p", "id": "1"}


def test_truncate_and_message_ops_are_typed_unknown_ops() -> None:
    for op, what in (("t", "truncate"), ("m", "message")):
        with pytest.raises(ValueDecodeError) as caught:
            decode(envelope(op))
        assert caught.value.reason is DeadLetterReason.UNKNOWN_OP and what in caught.value.detail


_source_blocks = st.fixed_dictionaries(
    {},
    optional={
        "connector": st.sampled_from(["postgresql", "mysql", "sqlserver", "oracle"]) | json_values,
        "table": st.text(max_size=5) | json_values,
        "snapshot": st.sampled_from(["true", "false", "last", "incremental"]) | json_values,
        "lsn": st.integers(0, 2**64 - 1) | json_values,
        "file": st.text(max_size=8) | json_values,
        "pos": st.integers(0, 2**40) | json_values,
        "row": st.integers(0, 5) | json_values,
        "change_lsn": st.sampled_from(["00000027:00000758:0003", ""]) | json_values,
        "commit_lsn": st.sampled_from(["00000027:00000758:0005"]) | json_values,
        "scn": st.integers(0, 2**60).map(str) | json_values,
        "commit_scn": st.integers(0, 2**60).map(str) | json_values,
        "ts_ms": json_values, "ts_us": json_values, "ts_ns": json_values,
    },
)


@given(op=st.sampled_from(["c", "u", "d", "r"]), source=_source_blocks,
       transaction=st.none() | json_values | st.fixed_dictionaries(
           {"id": json_values}, optional={"total_order": json_values, "data_collection_order": json_values}),
       wrapped=st.booleans())
def test_arbitrary_source_and_transaction_blocks_decode_or_fail_typed(op, source, transaction, wrapped) -> None:
    doc = envelope(op, before=ROW, after=None if op == "d" else ROW, source=source, transaction=transaction)
    try:
        event = decode({"schema": {}, "payload": doc} if wrapped else doc)
    except ValueDecodeError as exc:
        assert exc.reason in (DeadLetterReason.WRONG_ENVELOPE, DeadLetterReason.MISSING_FIELD)
        return
    assert isinstance(event, ChangeEvent) and event.op.value == op
    if event.source.position is not None:
        from xstream.model.position import position_order
        assert position_order(event.position, event.position) == 0  # every position the codec makes parses


@given(row=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
       meta=st.dictionaries(st.sampled_from(["__op", "__deleted", "__table", "__lsn", "__source_ts_ms", "__ts_ms",
                                             "__source_file", "__source_pos", "__scn", "__transaction_id",
                                             "__snapshot"]), json_values, min_size=1, max_size=5),
       key=st.none() | json_values)
def test_arbitrary_flattened_records_decode_or_fail_typed(row, meta, key) -> None:
    raw_key = orjson.dumps(key) if key is not None else None
    try:
        event = decode({**row, **meta}, key=raw_key)
    except (ValueDecodeError, KeyDecodeError):
        return
    assert isinstance(event, (ChangeEvent, Tombstone))


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_a_record_nested_deeper_than_the_limit_is_malformed_json_in_value_and_key() -> None:
    """Pydantic reads JSON only 200 levels deep: a deeper value would become an unreadable command."""
    inside = ROW | {"name": orjson.loads(deep(MAX_NESTING - 2))}  # envelope 1, after 2, the value's own levels
    assert isinstance(decode(envelope(after=inside)), ChangeEvent)
    too_deep = orjson.dumps(envelope(after=ROW)).replace(b'"Acme"', deep(MAX_NESTING - 1))
    with pytest.raises(ValueDecodeError) as caught:
        decode(too_deep)
    assert caught.value.reason is DeadLetterReason.MALFORMED_JSON and str(MAX_NESTING) in caught.value.detail
    with pytest.raises(KeyDecodeError) as key_caught:
        decode(envelope(), key=b'{"customer_id": ' + deep(MAX_NESTING) + b"}")
    assert key_caught.value.reason is DeadLetterReason.KEY_UNDECODABLE


COMMAND = TypeAdapter(dict[str, list[object]])


@pytest.mark.parametrize(("raw", "reason"), [
    (None, DeadLetterReason.INVALID_COMMAND),
    (b" " * 10_001, DeadLetterReason.OVERSIZE),
    (b'{"a": [NaN]}', DeadLetterReason.MALFORMED_JSON),
    (b'{"a": ["\\ud800"]}', DeadLetterReason.MALFORMED_JSON),
    (b'{"a": ["\xff"]}', DeadLetterReason.MALFORMED_JSON),
    (b'{"a": ' + deep(MAX_COMMAND_NESTING) + b"}", DeadLetterReason.MALFORMED_JSON),
    (b'{"a": 1}', DeadLetterReason.INVALID_COMMAND),
    (b"[]", DeadLetterReason.INVALID_COMMAND),
], ids=["null", "oversize", "nan", "lone surrogate", "not utf-8", "too deep", "wrong type", "not an object"])
def test_decode_command_raises_typed_decode_errors_only(raw: bytes | None, reason: DeadLetterReason) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        decode_command(raw, COMMAND, max_bytes=10_000)
    assert caught.value.reason is reason and caught.value.detail


def test_decode_command_reads_what_encode_wrote_up_to_its_nesting_limit() -> None:
    from xstream.model.commands import Causation, EnsureWorkspace, WorkspaceCommand

    value = orjson.loads(deep(MAX_COMMAND_NESTING - 3))  # command, categories, category, then the value
    command = EnsureWorkspace(idempotency_key="k" * 16, business_object={"ext_system_id": "E", "bo_type": "T",
                                                                         "bo_id": "1"},
                              workspace_type="Customer", name="n", categories={"C": {"A": value, "B": 2**70}},
                              causation=Causation(source_system="erp", entity="e", op="c", source_position="p",
                                                  topic="t", partition=0, offset=1))
    assert decode_command(encode(command), TypeAdapter(WorkspaceCommand), max_bytes=100_000) == command
