"""The HTTP request each downstream command becomes: one definition for the sink and the dry-run. Pure.

- ``update_record``: ``PATCH {entity}/{record_id}``, body ``fields`` (merged into the record);
- ``start_approval``: ``POST {approvals_path}``, body ``{process, subject, reference, requested_by,
  fields[, record]}`` (the reference names the OpenText document and the business object);
- ``notify``: ``POST`` to the channel's incoming-webhook URL, the message in the target's format.

Headers of every request: ``Idempotency-Key: "<key>"`` (IETF httpapi draft, an sf-string),
``X-Xstream-Origin`` and ``X-Xstream-Causation: <source_system>/<entity>/<source_position>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from xstream.model.commands import AnyDownstream, Notify, StartApproval, UpdateRecord
from xstream.transform.notify_format import Format, render

ORIGIN_HEADER = "X-Xstream-Origin"
CAUSATION_HEADER = "X-Xstream-Causation"


@dataclass(frozen=True)
class DownstreamRequest:
    operation: str
    """Names the call in logs and errors: records.patch, approvals.create, slack.post, teams.post."""
    method: str
    path: str
    """Relative to the target's base URL; for a notification, the channel name (its URL is a secret)."""
    headers: dict[str, str]
    body: Any


def sf_string(value: str) -> str:
    """``value`` as an RFC 8941 sf-string (quoted, ``\\`` and ``"`` escaped); printable ASCII only."""
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError(f"an Idempotency-Key must be printable ASCII, got {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def causation_header(command: AnyDownstream) -> str:
    c = command.causation
    return "/".join(quote(part, safe=":@-._~") for part in (c.source_system, c.entity, c.source_position))


def record_path(entity: str, record_id: str) -> str:
    return f"{quote(entity, safe='')}/{quote(record_id, safe='')}"


def approval_body(command: StartApproval) -> dict[str, Any]:
    """What the target's approvals API gets: process, subject, where it came from, what it is about."""
    reference: dict[str, Any] = {"system": "opentext", "business_object": command.business_object.kafka_key}
    if command.document is not None:
        reference |= {"document_id": command.document.node_id, "document_name": command.document.name,
                      "document_url": command.document.url, "version": command.document.version}
    if command.rule:
        reference["rule"] = command.rule
    body: dict[str, Any] = {"process": command.process, "subject": command.subject, "reference": reference,
                            "requested_by": command.causation.origin, "fields": dict(command.fields)}
    if command.record is not None:
        body["record"] = {"entity": command.record.entity, "id": command.record.id}
    return body


def request_for(command: AnyDownstream, *, approvals_path: str = "approvals", fmt: Format = "slack") -> DownstreamRequest:
    """Raises ValueError when the idempotency key cannot travel in a header (not printable ASCII)."""
    headers = {"Idempotency-Key": sf_string(command.idempotency_key), ORIGIN_HEADER: command.causation.origin,
               CAUSATION_HEADER: causation_header(command)}
    if isinstance(command, UpdateRecord):
        return DownstreamRequest("records.patch", "PATCH", record_path(command.entity, command.record_id), headers,
                                 command.fields)
    if isinstance(command, StartApproval):
        return DownstreamRequest("approvals.create", "POST", approvals_path.strip("/"), headers,
                                 approval_body(command))
    assert isinstance(command, Notify)
    return DownstreamRequest(f"{fmt}.post", "POST", command.channel, headers, render(command, fmt))
