"""Records per entity and the change log Debezium would read from the ERP's database, pure.

A record is a JSON object: ``id``, business fields, ``status`` (default "active"), ``links`` (an
object, e.g. ``workspace_url``, ``workspace_id``, ``documents``) and the fields the system keeps:
``version`` (1 on create, +1 per change), ``created_at``/``updated_at`` (ISO 8601 UTC),
``last_changed_by`` (the ``X-Xstream-Origin`` of the call that changed it, else "api" or
"erp-user") and ``last_causation`` (its ``X-Xstream-Causation``, else null). Updates are JSON
Merge Patch (RFC 7396): nested objects merge, ``null`` removes a field. An update that changes no
business field changes nothing: no new version, no change event.

Entities named ``managed`` (approvals) live here too, so they share versions, the change log and
``state_changing``, but their own module validates them and writes them whole (:meth:`RecordStore.insert`,
:meth:`RecordStore.replace`); the field-level create/update refuse them with 422 managed_entity.

Every create and every effective update appends a Debezium PostgreSQL change event to
:class:`ChangeLog`: ``{"before", "after", "op", "ts_ms", "source": {"version", "connector":
"postgresql", "name": "erp", "db": "erp", "schema": "public", "table": <entity>, "snapshot",
"lsn", "txId", "ts_ms"}, "transaction": null}`` with a strictly increasing ``lsn``; the Kafka key is
``{"id": <record id>}`` (the attachment tables name their own key; a delete is op "d" with ``before``
and a null ``after``, and no tombstone entry: producing that is the forwarder's business).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xstream_emulators.erp.model import READ_ONLY_FIELDS, ApiError

LSN_START = 24_000_000
LSN_STEP = 8
DEBEZIUM_VERSION = "2.7.0.Final"
SYSTEM_FIELDS = READ_ONLY_FIELDS - {"id"}


@dataclass(frozen=True)
class Change:
    lsn: int
    entity: str
    key: dict[str, Any]
    value: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"lsn": self.lsn, "entity": self.entity, "key": self.key, "value": self.value}


class ChangeLog:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self.changes: list[Change] = []
        self.last_lsn = LSN_START

    def append(self, entity: str, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, *,
               key: dict[str, Any] | None = None) -> Change:
        """One change event; ``key`` defaults to ``{"id": ...}`` of the row (``after``, or ``before`` for a delete)."""
        row = after if after is not None else before
        assert row is not None, "a change has a row before or after it"
        self.last_lsn += LSN_STEP
        ts_ms = int(self._wall() * 1000)
        source = {"version": DEBEZIUM_VERSION, "connector": "postgresql", "name": "erp", "ts_ms": ts_ms,
                  "snapshot": "true" if op == "r" else "false", "db": "erp", "sequence": None,
                  "schema": "public", "table": entity, "txId": 5000 + len(self.changes), "lsn": self.last_lsn,
                  "xmin": None}
        value = {"before": copy.deepcopy(before), "after": copy.deepcopy(after), "source": source, "op": op,
                 "ts_ms": ts_ms, "transaction": None}
        change = Change(self.last_lsn, entity, key if key is not None else {"id": row["id"]}, value)
        self.changes.append(change)
        return change

    def since(self, lsn: int, entity: str | None = None, limit: int | None = None) -> list[Change]:
        found = [c for c in self.changes if c.lsn > lsn and (entity is None or c.entity == entity)]
        return found[:limit] if limit is not None else found


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON Merge Patch of two objects (neither is changed)."""
    merged = copy.deepcopy(dict(target))
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, Mapping):
            current = merged.get(name)
            merged[name] = merge_patch(current if isinstance(current, Mapping) else {}, value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


class RecordStore:
    def __init__(self, entities: Iterable[str], log: ChangeLog, wall: Callable[[], float] = time.time, *,
                 managed: Iterable[str] = ()) -> None:
        self.managed = frozenset(managed)
        """Entities whose records are validated by their own module (approvals): kept, versioned and
        logged here, but written only through :meth:`insert` / :meth:`replace`, never by field."""
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in (*entities, *self.managed)}
        self.log = log
        self._wall = wall
        self._next_id: dict[str, int] = dict.fromkeys(self.records, 1)
        self.state_changing = 0
        """Calls that changed a record (creates and effective updates)."""

    def collection(self, entity: str) -> dict[str, dict[str, Any]]:
        try:
            return self.records[entity]
        except KeyError:
            raise ApiError(404, "unknown_entity", f"There is no entity {entity!r}.") from None

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        record = self.collection(entity).get(record_id)
        if record is None:
            raise ApiError(404, "not_found", f"No {entity} record with id {record_id!r}.")
        return record

    def query(self, entity: str, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        """Records whose top-level scalar fields equal every filter (compared as text), by id."""
        found = [r for r in self.collection(entity).values()
                 if all(_as_text(r.get(name)) == value for name, value in filters.items())]
        return sorted(found, key=lambda r: str(r["id"]))

    def create(self, entity: str, fields: Any, *, changed_by: str, causation: str | None = None,
               op: str = "c") -> dict[str, Any]:
        """A new record from request fields (optional ``id``; defaults for ``status`` and ``links``)."""
        self._generic(entity)
        collection = self.collection(entity)
        fields = _checked(fields, allow_id=True)
        record_id = fields.pop("id", None)
        if record_id is None:
            record_id = self._new_id(entity)
        elif isinstance(record_id, int) and not isinstance(record_id, bool):
            record_id = str(record_id)
        if not isinstance(record_id, str) or not record_id.strip() or "/" in record_id:
            raise ApiError(422, "invalid_field", "id must be a non-empty string without '/'.")
        if record_id in collection:
            raise ApiError(409, "duplicate_id", f"A {entity} record with id {record_id!r} already exists.")
        return self.insert(entity, record_id, {"status": "active", "links": {}} | merge_patch({}, fields),
                           changed_by=changed_by, causation=causation, op=op)

    def update(self, entity: str, record_id: str, patch: Any, *, changed_by: str,
               causation: str | None = None) -> tuple[dict[str, Any], bool]:
        """Merge ``patch`` into the record; (the record, whether anything changed)."""
        self._generic(entity)
        before = self.get(entity, record_id)
        patch = _checked(patch, allow_id=False)
        merged = merge_patch(before, patch)
        if not isinstance(merged.get("links", {}), dict):
            raise ApiError(422, "invalid_field", "links must be an object.")
        return self.replace(entity, record_id, merged, changed_by=changed_by, causation=causation)

    def insert(self, entity: str, record_id: str, fields: Mapping[str, Any], *, changed_by: str,
               causation: str | None = None, op: str = "c", at: str | None = None) -> dict[str, Any]:
        """Store a new record with exactly these business fields (validated by the caller) and log it."""
        collection = self.collection(entity)
        if record_id in collection:
            raise ApiError(409, "duplicate_id", f"A {entity} record with id {record_id!r} already exists.")
        now = at or self.now()
        record = {"id": record_id} | _own_fields(fields) | {
            "version": 1, "created_at": now, "updated_at": now, "last_changed_by": changed_by,
            "last_causation": causation}
        collection[record_id] = record
        self.state_changing += 1
        self.log.append(entity, op, None, record)
        return record

    def replace(self, entity: str, record_id: str, fields: Mapping[str, Any], *, changed_by: str,
                causation: str | None = None, at: str | None = None) -> tuple[dict[str, Any], bool]:
        """The record's business fields become ``fields`` (system fields in it are ignored); (the
        record, whether anything changed). No change: no new version, no change event."""
        before = self.get(entity, record_id)
        business = {"id": record_id} | _own_fields(fields)
        if business == _business(before):
            return before, False
        after = business | {"version": int(before["version"]) + 1, "created_at": before["created_at"],
                            "updated_at": at or self.now(), "last_changed_by": changed_by,
                            "last_causation": causation}
        self.collection(entity)[record_id] = after
        self.state_changing += 1
        self.log.append(entity, "u", before, after)
        return after, True

    def now(self) -> str:
        """The store's clock as ISO 8601 UTC with milliseconds (``...Z``), as records carry it."""
        return datetime.fromtimestamp(self._wall(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _generic(self, entity: str) -> None:
        if entity in self.managed:
            raise ApiError(422, "managed_entity",
                           f"{entity} records are written only through their own API, not field by field.")

    def _new_id(self, entity: str) -> str:
        prefix = entity[:3].upper()
        while True:
            candidate = f"{prefix}-{self._next_id[entity]:06d}"
            self._next_id[entity] += 1
            if candidate not in self.records[entity]:
                return candidate


def _checked(fields: Any, *, allow_id: bool) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object.")
    read_only = sorted(set(fields) & (READ_ONLY_FIELDS - ({"id"} if allow_id else set())))
    if read_only:
        raise ApiError(422, "read_only_field", f"Fields maintained by the system cannot be set: {read_only}.")
    if "status" in fields and fields["status"] is not None and not isinstance(fields["status"], str):
        raise ApiError(422, "invalid_field", "status must be a string.")
    if "links" in fields and fields["links"] is not None and not isinstance(fields["links"], dict):
        raise ApiError(422, "invalid_field", "links must be an object.")
    return dict(fields)


def _business(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in SYSTEM_FIELDS}


def _own_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the business fields, without the id (the store's key) and the system fields."""
    return {k: copy.deepcopy(v) for k, v in fields.items() if k not in SYSTEM_FIELDS and k != "id"}


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
