"""Approval workflows of the emulated ERP, pure: e.g. the commercial approval that xstream's downstream
sink starts once the legal review of a document is done in OpenText, and that an ERP user later
approves or rejects.

An approval is a record of the managed entity ``approvals`` in :class:`RecordStore`, so its creation
and its decision are change events of table "approvals" (ops ``c`` and ``u``) in the one change log
and count as state-changing, like every other write::

    {"id": "APR-000001", "process", "subject", "status": "pending", "reference", "record",
     "requested_by", "due_date", "fields", "decision", "decided_by", "decided_at", "comment",
     "version", "created_at", "updated_at", "last_changed_by", "last_causation"}

Create: ``process`` and ``subject`` are required non-empty strings; optional ``reference`` (object:
what in another system the approval is about, e.g. the OpenText document and workspace), ``record``
(``{"entity", "id"}``: the ERP record it is about; the entity must be one of this ERP's),
``requested_by`` (string), ``due_date`` (ISO 8601 date or date-time), ``fields`` (object of extra
values, default ``{}``); null is the same as absent. A field the system maintains is 422
read_only_field, any other unknown field 422 invalid_field, each naming the field.

Decide (an ERP user's act, see ``admin``): ``{"decision": "approved"|"rejected", "comment", "by"}``
-> ``status`` and ``decision`` become the decision, with ``decided_by``/``decided_at``; only a
pending approval can be decided (409 already_decided).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from xstream_emulators.erp.model import APPROVALS, READ_ONLY_FIELDS, ApiError
from xstream_emulators.erp.records import RecordStore

ID_PREFIX = "APR"
PENDING = "pending"
DECISIONS = ("approved", "rejected")
REQUIRED = ("process", "subject")
OPTIONAL = ("reference", "record", "requested_by", "due_date", "fields")
MAINTAINED = READ_ONLY_FIELDS | {"status", "decision", "decided_by", "decided_at", "comment"}
"""Fields of an approval only the ERP sets: a create that sends them is refused."""
DECISION_FIELDS = ("decision", "comment", "by")


class ApprovalStore:
    def __init__(self, records: RecordStore, entities: Iterable[str]) -> None:
        self._records = records
        self._entities = tuple(entities)
        """What ``record.entity`` may name: the ERP's own collections."""
        self._next_id = 1

    def create(self, body: Any, *, changed_by: str, causation: str | None = None) -> dict[str, Any]:
        given = self._checked(body)
        fields = {"process": given["process"], "subject": given["subject"], "status": PENDING,
                  "reference": given.get("reference"), "record": given.get("record"),
                  "requested_by": given.get("requested_by"), "due_date": given.get("due_date"),
                  "fields": given.get("fields") or {}, "decision": None, "decided_by": None,
                  "decided_at": None, "comment": None}
        return self._records.insert(APPROVALS, self._new_id(), fields, changed_by=changed_by, causation=causation)

    def get(self, approval_id: str) -> dict[str, Any]:
        approval = self._records.collection(APPROVALS).get(approval_id)
        if approval is None:
            raise ApiError(404, "not_found", f"No approval with id {approval_id!r}.")
        return approval

    def query(self, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        """Approvals whose top-level scalar fields (status, process, ...) equal every filter, by id."""
        return self._records.query(APPROVALS, filters)

    def decide(self, approval_id: str, body: Any, *, default_by: str) -> dict[str, Any]:
        """Approve or reject a pending approval; the decider is its ``last_changed_by``."""
        approval = self.get(approval_id)
        decision, comment, by = _decision(body, default_by)
        if approval["status"] != PENDING:
            raise ApiError(409, "already_decided", f"Approval {approval_id} is already {approval['status']}.")
        now = self._records.now()
        decided = approval | {"status": decision, "decision": decision, "decided_by": by, "decided_at": now,
                              "comment": comment}
        after, _ = self._records.replace(APPROVALS, approval_id, decided, changed_by=by, at=now)
        return after

    def _checked(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_body", "The request body must be a JSON object.")
        read_only = sorted(set(body) & MAINTAINED)
        if read_only:
            raise ApiError(422, "read_only_field", f"Fields maintained by the system cannot be set: {read_only}.")
        unknown = sorted(set(body) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise ApiError(422, "invalid_field", f"Unknown field(s) {unknown}; an approval takes "
                                                 f"{', '.join(REQUIRED + OPTIONAL)}.")
        given = {name: value for name, value in body.items() if value is not None}
        for name in REQUIRED:
            value = given.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ApiError(422, "invalid_field", f"{name} is required and must be a non-empty string.")
        for name in ("reference", "fields"):
            if name in given and not isinstance(given[name], dict):
                raise ApiError(422, "invalid_field", f"{name} must be an object.")
        if "requested_by" in given and not isinstance(given["requested_by"], str):
            raise ApiError(422, "invalid_field", "requested_by must be a string.")
        if "due_date" in given and not _is_iso_date(given["due_date"]):
            raise ApiError(422, "invalid_field", "due_date must be an ISO 8601 date or date-time.")
        if "record" in given:
            given["record"] = self._record_ref(given["record"])
        return given

    def _record_ref(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ApiError(422, "invalid_field", 'record must be an object {"entity", "id"}.')
        unknown = sorted(set(value) - {"entity", "id"})
        if unknown:
            raise ApiError(422, "invalid_field", f"Unknown field(s) {[f'record.{n}' for n in unknown]}; "
                                                 'record takes "entity" and "id".')
        entity, record_id = value.get("entity"), value.get("id")
        if entity not in self._entities:
            raise ApiError(422, "invalid_field", f"record.entity must be one of {list(self._entities)}.")
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            record_id = str(record_id)
        if not isinstance(record_id, str) or not record_id.strip():
            raise ApiError(422, "invalid_field", "record.id must be a non-empty string.")
        return {"entity": entity, "id": record_id}

    def _new_id(self) -> str:
        existing = self._records.collection(APPROVALS)
        while True:
            candidate = f"{ID_PREFIX}-{self._next_id:06d}"
            self._next_id += 1
            if candidate not in existing:
                return candidate


def _decision(body: Any, default_by: str) -> tuple[str, str | None, str]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object.")
    unknown = sorted(set(body) - set(DECISION_FIELDS))
    if unknown:
        raise ApiError(422, "invalid_field", f"Unknown field(s) {unknown}; a decision takes "
                                             f"{', '.join(DECISION_FIELDS)}.")
    decision, comment, by = body.get("decision"), body.get("comment"), body.get("by")
    if decision not in DECISIONS:
        raise ApiError(422, "invalid_field", f"decision must be one of {list(DECISIONS)}.")
    if comment is not None and not isinstance(comment, str):
        raise ApiError(422, "invalid_field", "comment must be a string.")
    if by is not None and (not isinstance(by, str) or not by.strip()):
        raise ApiError(422, "invalid_field", "by must be a non-empty string.")
    return decision, comment, by or default_by


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value)
        except ValueError:
            continue
        return True
    return False
