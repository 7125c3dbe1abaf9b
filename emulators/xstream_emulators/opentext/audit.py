"""The per-node audit trail a client can poll (GET /v2/nodes/{id}/audit). Pure.

Events are appended by the state (create, add version, rename, move, attribute value changed,
delete, workflow initiated/completed/stopped). Date filters have day granularity, like the real
server (pyxecm: "Time is not considered (only days)").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from xstream_emulators.opentext.model import ApiError, AuditEvent

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
INVALID = "One or more parameters are invalid"


def query(events: list[AuditEvent], params: Mapping[str, Any]) -> list[AuditEvent]:
    """Filter and sort one node's events by the where_* and sort parameters."""
    start = _day(params.get("where_audit_date_start"))
    end = _day(params.get("where_audit_date_end"))
    event_type = _int(params.get("where_type"))
    user_id = _int(params.get("where_user_id"))
    sort = params.get("sort") or "desc_audit_date"
    if sort not in ("desc_audit_date", "asc_audit_date", "audit_date"):
        raise ApiError(400, INVALID)
    selected = [
        e for e in events
        if (start is None or e.audit_date[:10] >= start)
        and (end is None or e.audit_date[:10] <= end)
        and (event_type is None or e.event_type == event_type)
        and (user_id is None or e.user_id == user_id)
    ]
    selected.sort(key=lambda e: e.seq, reverse=sort == "desc_audit_date")
    return selected


def entry(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.node_id, "event_type": event.event_type, "audit_date": event.audit_date,
            "user_id": event.user_id, "agent_id": None, "audit_language_code": None, "target_user_id": None,
            "audit_name": event.name}


def event_types(events: list[AuditEvent]) -> list[dict[str, Any]]:
    seen: dict[int, str] = {}
    for event in events:
        seen.setdefault(event.event_type, event.name)
    return [{"id": k, "name": v} for k, v in seen.items()]


def _day(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not DATE.match(text):
        raise ApiError(400, INVALID)
    return text[:10]


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, INVALID) from None
