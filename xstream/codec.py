"""Bytes <-> models. Decoding Debezium change events is the front door of every CDC flow.

Accepted value shapes: the JSON-converter wrapper ``{"schema": ..., "payload": {...}}`` and the
bare envelope; ops c/u/d/r; ExtractNewRecordState-flattened rows (``__op``, ``__deleted``,
``__table``, ``__lsn``, ``__source_ts_ms``, ``__ts_ms``, ``__transaction_id``...). The ``source``
blocks of the Postgres (lsn), MySQL (file+pos+row), SQL Server (commit_lsn+change_lsn) and Oracle
(scn+commit_scn) connectors give the position (see :mod:`xstream.model.position`); Debezium 2.x
``ts_us``/``ts_ns`` are read when ``ts_ms`` is absent; the ``transaction`` block is kept. A null value
(or a null payload) is a tombstone. Keys may be wrapped or bare, objects or scalars. Anything else
raises a typed DecodeError whose reason becomes the dead letter's reason.

Every input is parsed by orjson, strict RFC 8259 JSON: invalid UTF-8, lone surrogate escapes
(``"\\ud800"``), ``NaN``/``Infinity`` and numbers out of a double's range are ``malformed_json``. A
record nested deeper than :data:`MAX_NESTING` is ``malformed_json`` too: its values would be copied
into commands that pydantic cannot write (its serializer stops at 255 levels) or read back (its JSON
parser stops at 200). Command topics are read by :func:`decode_command`, the inverse of :func:`encode`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from xstream.errors import DeadLetterReason, KeyDecodeError, ValueDecodeError
from xstream.model.change import ChangeEvent, Op, SourceInfo, Tombstone, TransactionInfo
from xstream.model.opentext import OpenTextEvent
from xstream.model.position import binlog_position, lsn_position, mssql_position, scn_position
from xstream.model.record import RecordRef

_OPS = {op.value: op for op in Op}
_UNSUPPORTED_OPS = {"t": "truncate", "m": "message"}
_MSSQL_LSN = re.compile(r"^[0-9A-Fa-f]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+$")
_COUNT_DIGITS = 40
"""Digits a count or position field may have as text (a 64-bit unsigned integer has 20)."""
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_NESTING = 64
"""How deep arrays and objects may nest in a record read from outside (a CDC value's envelope or row,
a CDC key, an OpenText event); ``{}`` is one level, ``{"a": [1]}`` two. Rows are flat or nearly so; a
record deeper than this is refused at decode (``malformed_json``/``key_undecodable``), so that every
command made from it stays well inside pydantic's limits (JSON parser 200 levels, serializer 255)."""
MAX_COMMAND_NESTING = 2 * MAX_NESTING
"""The same limit for a command: it nests the values of its record a few levels deeper (command ->
categories -> category -> value), so it allows more than :data:`MAX_NESTING` and less than 200."""
_DEEP = f"nested deeper than {MAX_NESTING} levels (arrays and objects)"
DETAIL_MAX = 300
"""A refusal's detail names the problem; it does not carry the record (the dead letter does)."""


def decode_change(
    key: bytes | None, value: bytes | None, record: RecordRef, *, max_bytes: int
) -> ChangeEvent | Tombstone:
    """Decode one CDC record; raises KeyDecodeError or ValueDecodeError with a dead-letter reason."""
    decoded_key = decode_key(key)
    if value is None:
        return Tombstone(key=decoded_key, record=record)
    if len(value) > max_bytes:
        raise ValueDecodeError(DeadLetterReason.OVERSIZE, f"value is {len(value)} bytes, limit {max_bytes}")
    doc = _unwrap(_loads(value, ValueDecodeError))
    if too_deep(value, doc, MAX_NESTING):
        raise ValueDecodeError(DeadLetterReason.MALFORMED_JSON, _DEEP)
    if doc is None:
        return Tombstone(key=decoded_key, record=record)
    if not isinstance(doc, dict):
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"expected a JSON object, got {type(doc).__name__}")
    try:
        # Flattened first: an envelope never has "__" fields, but a flattened row may have a column "op".
        if "__op" in doc or "__deleted" in doc:
            return _from_flattened(doc, decoded_key or {}, record)
        if "op" in doc:
            return _from_envelope(doc, decoded_key or {}, record)
    except ValidationError as exc:  # a field of the wrong JSON type (e.g. "table": 5)
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"{where}: {first['msg']}") from exc
    raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, "neither a Debezium envelope (op) nor a flattened row (__op)")


def decode_key(key: bytes | None) -> dict[str, Any] | None:
    """The record key as an object: wrapped or bare; a scalar key (e.g. a string id) becomes ``{"id": ...}``."""
    if key is None or key == b"":
        return None
    doc = _unwrap(_loads(key, KeyDecodeError))
    if too_deep(key, doc, MAX_NESTING):
        raise KeyDecodeError(DeadLetterReason.KEY_UNDECODABLE, f"key {_DEEP}")
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, str | int | float | bool):
        return {"id": doc}
    raise KeyDecodeError(DeadLetterReason.KEY_UNDECODABLE, f"key is a JSON {type(doc).__name__}")


def _unwrap(doc: Any) -> Any:
    """The JSON converter's ``{"schema": ..., "payload": ...}`` wrapper (schemas.enable=true) -> the payload."""
    if isinstance(doc, dict) and len(doc) == 2 and "payload" in doc and "schema" in doc:
        return doc["payload"]
    return doc


def _loads(raw: bytes, error: type[KeyDecodeError] | type[ValueDecodeError]) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = DeadLetterReason.KEY_UNDECODABLE if error is KeyDecodeError else DeadLetterReason.MALFORMED_JSON
        raise error(reason, f"not JSON: {exc}") from exc


def too_deep(raw: bytes, doc: Any, limit: int = MAX_NESTING) -> bool:
    """Whether ``doc`` (parsed from ``raw``, or the part of it that is kept) nests deeper than ``limit``.

    Cheap on the hot path: bytes with at most ``limit`` brackets cannot nest deeper (two C-speed
    ``bytes.count``, no walk); otherwise the walk descends into containers only and stops at the limit.
    """
    return raw.count(b"{") + raw.count(b"[") > limit and _deeper_than(doc, limit)


def _deeper_than(doc: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``doc`` (a scalar is 0 levels)."""
    if isinstance(doc, dict):
        items: Any = doc.values()
    elif isinstance(doc, list):
        items = doc
    else:
        return False
    if limit < 1:
        return True
    for item in items:
        if isinstance(item, dict | list) and _deeper_than(item, limit - 1):
            return True
    return False


def _op(raw: Any) -> Op:
    if isinstance(raw, str) and raw in _OPS:
        return _OPS[raw]
    what = _UNSUPPORTED_OPS.get(raw, "unknown") if isinstance(raw, str) else "unknown"
    raise ValueDecodeError(DeadLetterReason.UNKNOWN_OP, f"op {_short(repr(raw), 80)} ({what}) is not a row change")


def _from_envelope(doc: dict[str, Any], key: dict[str, Any], record: RecordRef) -> ChangeEvent:
    op = _op(doc["op"])
    before, after = _row(doc, "before"), _row(doc, "after")
    if op in (Op.CREATE, Op.READ, Op.UPDATE) and after is None:
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, f"op {op.value!r} without 'after'")
    if op is Op.DELETE and before is None and not key:
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, "delete without 'before' and without a key")
    source = _source(doc.get("source"))
    transaction = _transaction(doc.get("transaction"), "transaction")
    return ChangeEvent(
        entity=source.table or _topic_entity(record.topic),
        op=op,
        key=key,
        before=before,
        after=after,
        source=source,
        ts_ms=_ts_ms(doc, "ts"),
        transaction_id=transaction.id if transaction else None,
        transaction=transaction,
        record=record,
    )


def _from_flattened(doc: dict[str, Any], key: dict[str, Any], record: RecordRef) -> ChangeEvent:
    """ExtractNewRecordState rows: ``add.fields`` arrive as ``__<field>``, source fields also as ``__source_<field>``."""
    deleted = str(doc.get("__deleted", "false")).lower() == "true"
    op = Op.DELETE if deleted else _op(doc.get("__op", "u"))
    row = {k: v for k, v in doc.items() if not k.startswith("__")}
    if not row and not (op is Op.DELETE and key):
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, "flattened record without any column")
    meta = {k[2:]: v for k, v in doc.items() if k.startswith("__")}
    src = {**{k[len("source_"):]: v for k, v in meta.items() if k.startswith("source_")},
           **{k: v for k, v in meta.items() if not k.startswith("source_")}}
    table = src.get("table")
    source = SourceInfo(
        connector=src.get("connector"),
        name=src.get("name"),
        db=src.get("db"),
        schema_name=src.get("schema"),
        table=table or None,  # validated as text by SourceInfo: a table that is not a string is garbage
        snapshot=_snapshot(src.get("snapshot")),
        position=_position(src, "__"),
        ts_ms=_ts_ms(meta, "source_ts"),
    )
    transaction = _transaction(
        {k[len("transaction_"):]: v for k, v in meta.items() if k.startswith("transaction_")} or None,
        "__transaction_*",
    )
    return ChangeEvent(
        entity=source.table or _topic_entity(record.topic),
        op=op,
        key=key,
        before=row if op is Op.DELETE else None,
        after=None if op is Op.DELETE else row,
        source=source,
        ts_ms=_ts_ms(meta, "ts") if _ts_ms(meta, "ts") is not None else source.ts_ms,
        transaction_id=transaction.id if transaction else None,
        transaction=transaction,
        record=record,
    )


def _row(doc: dict[str, Any], field: str) -> dict[str, Any] | None:
    row = doc.get(field)
    if row is None or isinstance(row, dict):
        return row
    raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"'{field}' is a {type(row).__name__}, not an object")


def _source(raw: Any) -> SourceInfo:
    if raw is None:
        return SourceInfo()
    if not isinstance(raw, dict):
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"'source' is a {type(raw).__name__}, not an object")
    return SourceInfo(
        connector=raw.get("connector"),
        name=raw.get("name"),
        db=raw.get("db"),
        schema_name=raw.get("schema"),
        table=raw.get("table") or raw.get("collection"),
        snapshot=_snapshot(raw.get("snapshot")),
        position=_position(raw, "source."),
        ts_ms=_ts_ms(raw, "ts"),
    )


def _snapshot(raw: Any) -> bool:
    """Debezium writes "true", "first", "last", "incremental" (1.x/2.x) or a bool; "false" or absent = streaming."""
    return str(raw if raw is not None else "false").lower() not in ("false", "")


def _transaction(raw: Any, where: str) -> TransactionInfo | None:
    if raw is None:
        return None
    tx_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(tx_id, bool) or not isinstance(tx_id, str | int) or tx_id == "":
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"{where}: a transaction block needs an 'id'")
    orders = {f: raw.get(f) for f in ("total_order", "data_collection_order")}
    counts = {f: _count(v) for f, v in orders.items() if v is not None}
    for field, count in counts.items():
        if count is None:
            raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE,
                                   f"{where}.{field}: {_short(repr(orders[field]), 80)} is not a count")
    return TransactionInfo(id=str(tx_id), **counts)


def _position(src: dict[str, Any], where: str) -> str | None:
    """The connector's own change position, as one comparable string (Postgres, MySQL, SQL Server, Oracle).

    A position field of the wrong shape is a malformed record: ordering and idempotency keys rely on it.
    """
    if src.get("lsn") is not None:
        position = lsn_position(src["lsn"])
        if position is None:
            raise _bad_position(where, "lsn", src["lsn"])
        return position
    if src.get("file") is not None and src.get("pos") is not None:
        file, pos, row = src["file"], src["pos"], src.get("row") or 0
        if not isinstance(file, str) or not file or ":" in file:
            raise _bad_position(where, "file", file)
        pos_count, row_count = _count(pos), _count(row)
        for field, value, count in (("pos", pos, pos_count), ("row", row, row_count)):
            if count is None:
                raise _bad_position(where, field, value)
        return binlog_position(file, pos_count, row_count)
    if src.get("change_lsn") is not None or src.get("commit_lsn") is not None:
        for field in ("commit_lsn", "change_lsn"):
            value = src.get(field)
            if value is not None and not (isinstance(value, str) and _MSSQL_LSN.match(value)):
                raise _bad_position(where, field, value)
        return mssql_position(src.get("commit_lsn"), src.get("change_lsn"))
    if src.get("scn") is not None:
        scn, commit = _count(src["scn"]), src.get("commit_scn")
        commit_count = _count(commit) if commit not in (None, "") else None
        if scn is None:
            raise _bad_position(where, "scn", src["scn"])
        if commit not in (None, "") and commit_count is None:
            raise _bad_position(where, "commit_scn", commit)
        return scn_position(scn, commit_count)
    return None


def _bad_position(where: str, field: str, value: Any) -> ValueDecodeError:
    return ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE,
                            f"{where}{field}: {_short(repr(value), 80)} is not a source position")


def _count(value: Any) -> int | None:
    """A non-negative integer given as a JSON integer or as ASCII digits ("154"); None for anything else
    (``str.isdigit`` alone would pass "²", which ``int`` refuses, and ``int`` refuses more than 4300 digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _COUNT_DIGITS:
        return int(value)
    return None


def _short(text: str, limit: int = DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ts_ms(doc: dict[str, Any], prefix: str) -> int | None:
    """``<prefix>_ms``, else Debezium 2.x ``_us``/``_ns`` scaled down; numbers or digit strings."""
    for unit, divisor in (("ms", 1), ("us", 1_000), ("ns", 1_000_000)):
        value = doc.get(f"{prefix}_{unit}")
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value // divisor
        if isinstance(value, str) and (count := _count(value)) is not None:
            return count // divisor
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


def decode_opentext_event(value: bytes | None, *, max_bytes: int) -> OpenTextEvent:
    """An OpenText events topic record; a typed ValueDecodeError (the dead letter's reason) otherwise."""
    if value is None:
        raise ValueDecodeError(DeadLetterReason.MISSING_FIELD, "null value: an OpenText event was expected")
    if len(value) > max_bytes:
        raise ValueDecodeError(DeadLetterReason.OVERSIZE, f"value is {len(value)} bytes, limit {max_bytes}")
    doc = _loads(value, ValueDecodeError)
    if too_deep(value, doc, MAX_NESTING):
        raise ValueDecodeError(DeadLetterReason.MALFORMED_JSON, _DEEP)
    if not isinstance(doc, dict):
        raise ValueDecodeError(DeadLetterReason.WRONG_ENVELOPE, f"expected a JSON object, got {type(doc).__name__}")
    try:
        return OpenTextEvent.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        reason = DeadLetterReason.MISSING_FIELD if first["type"] == "missing" else DeadLetterReason.WRONG_ENVELOPE
        raise ValueDecodeError(reason, f"not an OpenText event: {where}: {first['msg']}") from exc


def decode_command(value: bytes | None, adapter: TypeAdapter[T], *, max_bytes: int) -> T:
    """A command topic's record as the topic's type (``TypeAdapter(WorkspaceCommand)`` or
    ``TypeAdapter(DownstreamCommand)``); the inverse of :func:`encode` for every command xstream makes.

    Raises ValueDecodeError only, its reason the dead letter's: a null value -> ``invalid_command``;
    more than ``max_bytes`` -> ``oversize``; not strict JSON (invalid UTF-8, a lone surrogate, NaN or
    Infinity, a number out of range) or nested deeper than :data:`MAX_COMMAND_NESTING` ->
    ``malformed_json``; JSON that breaks the topic's contract -> ``invalid_command`` naming the field.
    """
    if value is None:
        raise ValueDecodeError(DeadLetterReason.INVALID_COMMAND, "null value: a command was expected")
    if len(value) > max_bytes:
        raise ValueDecodeError(DeadLetterReason.OVERSIZE, f"value is {len(value)} bytes, limit {max_bytes}")
    doc = _loads(value, ValueDecodeError)  # strict JSON first: pydantic's parser would take NaN and Infinity
    if too_deep(value, doc, MAX_COMMAND_NESTING):
        raise ValueDecodeError(DeadLetterReason.MALFORMED_JSON,
                               f"nested deeper than {MAX_COMMAND_NESTING} levels (arrays and objects)")
    try:
        # JSON mode, not the parsed doc: the exact inverse of the serializer (integers of any size, JSON-mode
        # coercions); inside the nesting limit checked above, its parser's own limit (200) is never reached.
        return adapter.validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        reason = DeadLetterReason.MALFORMED_JSON if first["type"] == "json_invalid" else DeadLetterReason.INVALID_COMMAND
        raise ValueDecodeError(reason, _short(f"not a valid command: {where}: {first['msg']}")) from exc
