"""``xstream rules dry-run``: what an OpenText event would trigger, and why each rule would or would not fire.

Pure: an event (the OpenText events topic's JSON), optionally what was known before (an earlier
event of the same document, or just a previous status), the status rules -> the verdict of every
rule and, for each command, the exact HTTP request the downstream sink would send.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from xstream.codec import decode_opentext_event
from xstream.errors import DecodeError
from xstream.model.documents import LockVersion
from xstream.model.opentext import OpenTextEvent
from xstream.model.record import RecordRef
from xstream.transform.downstream_requests import request_for
from xstream.transform.notify_format import Format
from xstream.transform.status_engine import DocumentMemory, evaluate, value_of
from xstream.transform.status_rules import StatusRuleSet

DRY_RUN_RECORD = RecordRef(topic="opentext.events", partition=0, offset=0)


@dataclass(frozen=True)
class StatusDryRun:
    text: str
    ok: bool
    """False when the event could not be read or an action could not become a command."""


def memory_from(event: OpenTextEvent) -> DocumentMemory:
    doc = event.document
    return DocumentMemory(event_id=event.event_id, modify_date=doc.modify_date, version=doc.version,
                          attributes=doc.attributes)


def with_status(rules: StatusRuleSet, event: OpenTextEvent, status: str) -> DocumentMemory:
    """The event's document as it was with another status (the first rule's status attribute)."""
    ref = rules.rules[0].attributes.status
    attributes = {cat: dict(values) for cat, values in event.document.attributes.items()}
    attributes.setdefault(ref.category, {})[ref.attribute] = status
    return DocumentMemory(event_id="dry-run-previous", modify_date="", attributes=attributes)


def explain(rules: StatusRuleSet, raw_event: bytes, *, previous: bytes | None = None,
            previous_status: str | None = None, fmt: Format = "slack", approvals_path: str = "approvals") -> StatusDryRun:
    try:
        event = decode_opentext_event(raw_event, max_bytes=len(raw_event) + 1)
        before = decode_opentext_event(previous, max_bytes=len(previous) + 1) if previous is not None else None
    except DecodeError as exc:
        return StatusDryRun(f"not an OpenText event: {exc.reason.value}: {exc.detail}\n", ok=False)
    memory = memory_from(before) if before is not None else (
        with_status(rules, event, previous_status) if previous_status is not None else None)
    evaluation = evaluate(rules, event, memory, DRY_RUN_RECORD)
    doc, ws = event.document, event.workspace
    status_ref = rules.rules[0].attributes.status
    lines = [f"event      {event.kind.value} via {event.ingress.value}: document {doc.node_id} {doc.name!r} "
             f"(version {doc.version}, modified {doc.modify_date})"]
    if ws is not None:
        bo = ws.business_object.kafka_key if ws.business_object else "none"
        lines.append(f"workspace  {ws.node_id} {ws.name!r} ({ws.type_name}), business object {bo}")
    else:
        lines.append("workspace  none")
    if event.workflow is not None:
        lines.append(f"workflow   {event.workflow.name!r} (process {event.workflow.process_id}) {event.workflow.status}")
    known = "unknown (first observation)" if memory is None or memory.attributes is None \
        else repr(value_of(memory.attributes, status_ref))
    lines.append(f"status     {value_of(doc.attributes, status_ref)!r} (previously {known})")
    if evaluation.skipped is not None:
        lines.append(f"skipped    {evaluation.skipped}")
    lines.append("rules")
    for verdict in evaluation.verdicts:
        lines.append(f"  {'FIRES' if verdict.matched else '-    '}  {verdict.rule}: {verdict.why}")
    lines.append(f"commands   {len(evaluation.commands)}")
    for number, command in enumerate(evaluation.commands, start=1):
        if isinstance(command, LockVersion):
            lines += [f"  {number}. lock_version -> OpenText (rule {command.rule}, document {command.node_id})",
                      f"     POST {{base_url}}/api/v2/nodes/{command.node_id}/versions/{command.version}/lock"]
            if command.link_to is not None:
                to = command.link_to
                lines += [f"     then GET {{base_url}}/api/v2/nodes/{command.node_id}/copylink and a link "
                          f"attachment on {to.target} ({to.format}) record {to.record.bo_type or ''} {to.record.bo_key}"]
            continue
        request = request_for(command, approvals_path=approvals_path, fmt=fmt)
        where = f"<incoming webhook of channel {request.path}>" if command.kind == "notify" else f"{{base_url}}/{request.path}"
        lines += [f"  {number}. {command.kind} -> target {command.target} (rule {command.rule}, "
                  f"business object {command.kafka_key})",
                  f"     {request.method} {where}"]
        lines += [f"     {name}: {value}" for name, value in request.headers.items()]
        body = orjson.dumps(request.body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
        lines += [f"     {line}" for line in body.splitlines()]
    for problem in evaluation.problems:
        lines.append(f"  PROBLEM  {problem} (the event would be dead-lettered)")
    return StatusDryRun("\n".join(lines) + "\n", ok=not evaluation.problems)
