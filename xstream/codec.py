"""Bytes <-> models. Decoding Debezium change events is the front door of every CDC flow.

Accepted value shapes: the JSON-converter wrapper ``{"schema": ..., "payload": {...}}`` and the
bare envelope; ops c/u/d/r; ExtractNewRecordState-flattened rows (``__op``, ``__deleted``,
``__table``, ``__source_ts_ms``...). A null value (or a null payload) is a tombstone. Keys may be
wrapped or bare, objects or scalars. Anything else raises a typed DecodeError whose reason becomes
the dead letter's reason.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from xstream.errors import DeadLetterReason, KeyDecodeError, ValueDecodeError
from xstream.model.change import ChangeEvent, Op, SourceInfo, Tombstone
from xstream.model.record import RecordRef

_OPS = {op.value: op for op in Op}
_UNSUPPORTED_OPS = {"t": "truncate", "m": "message"}
M = TypeVar("M", bound=BaseModel)


def decode_change(
    key: bytes | None, value: bytes | None, record: RecordRef, *, max_bytes: int
) -> ChangeEvent | Tombstone:
    """Decode one CDC record; raises KeyDecodeError or ValueDecodeError with a dead-letter reason."""
    decoded_key = decode_key(key)
    if value is None:
        return Tombstone(key=decoded_key, record=record)
    if len(value) > max_bytes:
        raise ValueDecodeError(DeadLetterReason.OVERSIZE, f"value is {len(value)} bytes, limit {max_bytes}")
    doc = _loads(value, ValueDecodeError)
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        doc = doc["payload"]
    if doc is None:
        return Tombstone(key=decoded_key, record=record)
    if not isinstance(doc, dict):
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"expected a JSON object, got {type(doc).__name__}")
    try:
        if "op" in doc:
            return _from_envelope(doc, decoded_key or {}, record)
        if "__op" in doc or "__deleted" in doc:
            return _from_flattened(doc, decoded_key or {}, record)
    except ValidationError as exc:  # a field of the wrong JSON type (e.g. "table": 5)
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"{where}: {first['msg']}") from exc
    raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, "neither a Debezium envelope (op) nor a flattened row (__op)")


def decode_key(key: bytes | None) -> dict[str, Any] | None:
    if key is None or key == b"":
        return None
    doc = _loads(key, KeyDecodeError)
    if isinstance(doc, dict) and "payload" in doc and "schema" in doc:
        doc = doc["payload"]
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, str | int | float | bool):
        return {"id": doc}
    raise KeyDecodeError(DeadLetterReason.KEY_UNDECODABLE, f"key is a JSON {type(doc).__name__}")


def _loads(raw: bytes, error: type[KeyDecodeError] | type[ValueDecodeError]) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = DeadLetterReason.KEY_UNDECODABLE if error is KeyDecodeError else DeadLetterReason.MALFORMED_JSON
        raise error(reason, f"not JSON: {exc}") from exc


def _op(raw: Any) -> Op:
    if isinstance(raw, str) and raw in _OPS:
        return _OPS[raw]
    what = _UNSUPPORTED_OPS.get(raw, "unknown") if isinstance(raw, str) else "unknown"
    raise ValueDecodeError(DeadLetterReason.UNKNOWN_OP, f"op {raw!r} ({what}) is not a row change")


def _from_envelope(doc: dict[str, Any], key: dict[str, Any], record: RecordRef) -> ChangeEvent:
    op = _op(doc["op"])
    before, after = _row(doc, "before"), _row(doc, "after")
    if op in (Op.CREATE, Op.READ, Op.UPDATE) and after is None:
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, f"op {op.value!r} without 'after'")
    if op is Op.DELETE and before is None and not key:
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, "delete without 'before' and without a key")
    source = _source(doc.get("source"))
    transaction = doc.get("transaction")
    return ChangeEvent(
        entity=source.table or _topic_entity(record.topic),
        op=op,
        key=key,
        before=before,
        after=after,
        source=source,
        ts_ms=_ts_ms(doc),
        transaction_id=str(transaction["id"]) if isinstance(transaction, dict) and "id" in transaction else None,
        record=record,
    )


def _from_flattened(doc: dict[str, Any], key: dict[str, Any], record: RecordRef) -> ChangeEvent:
    deleted = str(doc.get("__deleted", "false")).lower() == "true"
    op = Op.DELETE if deleted else _op(doc.get("__op", "u"))
    row = {k: v for k, v in doc.items() if not k.startswith("__")}
    position = _position({k[2:]: v for k, v in doc.items() if k.startswith("__")})
    table = doc.get("__table")
    source = SourceInfo(
        table=table or None,  # validated as text by SourceInfo: a table that is not a string is garbage
        db=doc.get("__db"),
        snapshot=str(doc.get("__snapshot", "false")).lower() not in ("false", ""),
        position=position,
    )
    ts = doc.get("__source_ts_ms") or doc.get("__ts_ms")
    return ChangeEvent(
        entity=source.table or _topic_entity(record.topic),
        op=op,
        key=key,
        before=row if op is Op.DELETE else None,
        after=None if op is Op.DELETE else row,
        source=source,
        ts_ms=int(ts) if isinstance(ts, int | float | str) and str(ts).isdigit() else None,
        record=record,
    )


def _row(doc: dict[str, Any], field: str) -> dict[str, Any] | None:
    row = doc.get(field)
    if row is None or isinstance(row, dict):
        return row
    raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"'{field}' is a {type(row).__name__}, not an object")


def _source(raw: Any) -> SourceInfo:
    if not isinstance(raw, dict):
        return SourceInfo()
    snapshot = str(raw.get("snapshot", "false")).lower()
    return SourceInfo(
        connector=raw.get("connector"),
        name=raw.get("name"),
        db=raw.get("db"),
        schema_name=raw.get("schema"),
        table=raw.get("table") or raw.get("collection"),
        snapshot=snapshot not in ("false", ""),
        position=_position(raw),
    )


def _position(src: dict[str, Any]) -> str | None:
    """The connector's own change position, as one string (Postgres, MySQL, SQL Server, Oracle)."""
    if src.get("lsn") is not None:
        return f"lsn:{src['lsn']}"
    if src.get("file") is not None and src.get("pos") is not None:
        return f"binlog:{src['file']}:{src['pos']}:{src.get('row', 0)}"
    if src.get("change_lsn") is not None or src.get("commit_lsn") is not None:
        return f"mssql:{src.get('commit_lsn')}:{src.get('change_lsn')}"
    if src.get("scn") is not None:
        return f"scn:{src['scn']}:{src.get('commit_scn') or ''}"
    return None


def _ts_ms(doc: dict[str, Any]) -> int | None:
    for field, divisor in (("ts_ms", 1), ("ts_us", 1_000), ("ts_ns", 1_000_000)):
        value = doc.get(field)
        if isinstance(value, int):
            return value // divisor
    return None


def _topic_entity(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def encode(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model)


def decode_model(raw: bytes, model: type[M]) -> M:
    """Decode our own topic's records; a ValidationError here means a producer broke the contract."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"not a valid {model.__name__}: {exc}") from exc
