"""The body a server-side hook POSTs: thin, validated, and refused with a dead-letter reason."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from xstream.errors import DeadLetterReason, ValueDecodeError
from xstream.ingress.hooks import parse_hook
from xstream.model.opentext import EventKind


def body(**fields: object) -> bytes:
    return orjson.dumps(fields)


def reason_for(raw: bytes) -> DeadLetterReason:
    with pytest.raises(ValueDecodeError) as caught:
        parse_hook(raw)
    return caught.value.reason


def test_the_documented_example_parses() -> None:
    hook = parse_hook(b'{"event_id": "audit-4711", "event": "document.attributes_changed", "node_id": 100123, '
                      b'"process_id": null, "occurred_at": "2026-12-01T07:16:20Z", "user_id": 1000}')
    assert hook.event is EventKind.ATTRIBUTES_CHANGED
    assert (hook.event_id, hook.node_id, hook.process_id, hook.user_id) == ("audit-4711", 100123, None, 1000)
    assert hook.occurred_at == datetime(2026, 12, 1, 7, 16, 20, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["document.added", "document.version_added", "document.attributes_changed"])
def test_document_events_name_the_node(kind: str) -> None:
    hook = parse_hook(body(event=kind, node_id=100123))
    assert hook.event == kind and hook.node_id == 100123


def test_a_finished_workflow_names_the_process() -> None:
    hook = parse_hook(body(event="workflow.finished", process_id=2001))
    assert hook.event is EventKind.WORKFLOW_FINISHED and hook.process_id == 2001


@pytest.mark.parametrize(("content_script_name", "kind"), [
    ("NodeCreate", EventKind.DOCUMENT_ADDED),
    ("NodeAddVersion", EventKind.VERSION_ADDED),
    ("NodeUpdate", EventKind.ATTRIBUTES_CHANGED),
])
def test_content_script_event_names_are_accepted(content_script_name: str, kind: EventKind) -> None:
    assert parse_hook(body(event=content_script_name, node_id=100123)).event is kind


def test_only_the_event_and_its_subject_are_required() -> None:
    hook = parse_hook(body(event="document.added", node_id=7))
    assert (hook.event_id, hook.occurred_at, hook.user_id) == (None, None, None)


def test_unknown_fields_are_ignored() -> None:
    hook = parse_hook(body(event="NodeCreate", node_id=100123, node_name="Contract.pdf",
                           csevent={"name": "NodeCreate", "version": 2}, tenant="acme"))
    assert hook.event is EventKind.DOCUMENT_ADDED and hook.node_id == 100123
    assert not hasattr(hook, "node_name")


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"event": "document.added", "node_id": 1', b"\xff\xfe"],
                         ids=["empty", "text", "truncated", "not utf-8"])
def test_a_body_that_is_not_json_is_malformed(raw: bytes) -> None:
    assert reason_for(raw) is DeadLetterReason.MALFORMED_JSON


@pytest.mark.parametrize("raw", [b"[]", b'[{"event": "document.added", "node_id": 1}]', b'"document.added"',
                                 b"null", b"42"])
def test_json_that_is_not_an_object_is_the_wrong_envelope(raw: bytes) -> None:
    assert reason_for(raw) is DeadLetterReason.WRONG_ENVELOPE


@pytest.mark.parametrize("event", ["document.deleted", "NodeDelete", "nodecreate", "", None, 5])
def test_an_unknown_event_is_an_unknown_op(event: object) -> None:
    assert reason_for(body(event=event, node_id=100123)) is DeadLetterReason.UNKNOWN_OP


@pytest.mark.parametrize(("fields", "named"), [
    ({"node_id": 100123}, "event"),
    ({"event": "document.added"}, "node_id"),
    ({"event": "NodeAddVersion", "process_id": 2001}, "node_id"),
    ({"event": "document.attributes_changed", "node_id": None}, "node_id"),
    ({"event": "workflow.finished"}, "process_id"),
    ({"event": "workflow.finished", "node_id": 100123}, "process_id"),
])
def test_a_missing_subject_is_a_missing_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValueDecodeError) as caught:
        parse_hook(orjson.dumps(fields))
    assert caught.value.reason is DeadLetterReason.MISSING_FIELD
    assert named in caught.value.detail


@pytest.mark.parametrize("fields", [
    {"event": "document.added", "node_id": "one hundred"},
    {"event": "document.added", "node_id": 0},
    {"event": "document.added", "node_id": -5},
    {"event": "workflow.finished", "process_id": 0},
    {"event": "document.added", "node_id": 7, "occurred_at": "yesterday"},
    {"event": "document.added", "node_id": 7, "event_id": "x" * 201},
])
def test_a_field_of_the_wrong_type_or_range_is_the_wrong_envelope(fields: dict[str, object]) -> None:
    assert reason_for(orjson.dumps(fields)) is DeadLetterReason.WRONG_ENVELOPE


@pytest.mark.parametrize("where", ["event", "extra"])
def test_a_body_nested_deeper_than_every_input_may_be_is_malformed(where: str) -> None:
    deep = b"[" * 1000 + b"]" * 1000  # an enum error would repr it: RecursionError
    raw = b'{"node_id": 1, "event": ' + (deep if where == "event" else b'"NodeCreate", "x": ' + deep) + b"}"
    assert reason_for(raw) is DeadLetterReason.MALFORMED_JSON
