"""Fuzzing the webhook's body parser, ``hooks.parse_hook``, alone and behind the signature check.

Property: any body is a HookNotification that names its subject, or a ValueDecodeError with a
dead-letter reason and a detail (the 400 and the dead letter); and, with ``verify`` in front as the
webhook runs them, every header and body combination ends in a typed refusal or a notification.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz.corpus import DEPTHS, assert_typed_refusal, fuzz, json_values, mutations, nested, splice
from xstream.codec import MAX_NESTING
from xstream.errors import DeadLetterReason, DecodeError, WebhookRefused
from xstream.ingress.hooks import HookNotification, parse_hook
from xstream.ingress.signature import ReplayGuard, verify
from xstream.model.opentext import EventKind

EXAMPLES = [
    b'{"event_id": "audit-4711", "event": "document.attributes_changed", "node_id": 100123, '
    b'"process_id": null, "occurred_at": "2026-12-01T07:16:20Z", "user_id": 1000}',
    b'{"event": "workflow.finished", "process_id": 2001}',
    b'{"event": "NodeAddVersion", "node_id": 100124, "occurred_at": "2026-12-01T07:16:20+01:00"}',
]
FAST = fuzz(300)
SECRET, NOW = "current-secret-0123456789", 1_796_109_380


def parsed(body: bytes) -> HookNotification | DecodeError:
    try:
        hook = parse_hook(body)
    except DecodeError as exc:
        assert_typed_refusal(exc.reason, exc.detail)
        return exc
    except Exception as exc:  # noqa: BLE001 - the property is that nothing else escapes
        raise AssertionError(f"parse_hook raised {type(exc).__name__}: {str(exc)[:200]}") from exc
    assert isinstance(hook.event, EventKind)
    subject = hook.process_id if hook.event is EventKind.WORKFLOW_FINISHED else hook.node_id
    assert isinstance(subject, int) and subject > 0
    return hook


def test_the_examples_parse() -> None:
    assert all(isinstance(parsed(body), HookNotification) for body in EXAMPLES)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes(body: bytes) -> None:
    parsed(body)


@FAST
@given(json_values | st.dictionaries(st.sampled_from(["event", "node_id", "process_id", "occurred_at", "event_id",
                                                      "user_id", "x"]), json_values))
def test_random_json(doc: object) -> None:
    parsed(orjson.dumps(doc))


@fuzz(400)
@given(st.one_of([mutations(body) for body in EXAMPLES]))
def test_mutated_notifications(body: bytes) -> None:
    parsed(body)


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("field", ["event", "node_id", "occurred_at", "extra", None])
def test_deep_nesting_in_any_field(field: str | None, depth: int, kind: str) -> None:
    doc = orjson.loads(EXAMPLES[0])
    result = parsed(splice(doc, (field,) if field else (), nested(depth, kind=kind)))
    if depth > MAX_NESTING:  # even in a field that is ignored
        assert isinstance(result, DecodeError) and result.reason is DeadLetterReason.MALFORMED_JSON, result
    elif field in (None, "event", "node_id", "occurred_at"):
        assert isinstance(result, DecodeError)


@pytest.mark.parametrize("node_id", [b"0", b"-1", b"1.0", b'"100123"', b"true", b"18446744073709551616", b"1e400",
                                     b"9" * 5000, b"NaN"])
def test_a_node_id_that_is_no_positive_integer_is_refused(node_id: bytes) -> None:
    result = parsed(splice(orjson.loads(EXAMPLES[0]), ("node_id",), node_id))
    assert isinstance(result, DecodeError), result


def hmac_hex(timestamp: str, body: bytes) -> str:
    return hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


headers = st.none() | st.text(max_size=40)


@FAST
@given(st.one_of([mutations(body) for body in EXAMPLES]) | st.binary(max_size=100), headers, headers,
       st.booleans())
def test_any_headers_and_body_end_in_a_typed_refusal_or_a_notification(body: bytes, timestamp: str | None,
                                                                       signature: str | None, sign: bool) -> None:
    if sign:
        timestamp, signature = str(NOW), f"v1={hmac_hex(str(NOW), body)}"
    try:
        verify(timestamp=timestamp, signature=signature, body=body, secrets=(SECRET,), now=NOW, tolerance_s=300,
               guard=ReplayGuard(300))
    except WebhookRefused as refused:
        assert not sign and refused.detail
        return
    result = parsed(body)
    if isinstance(result, DecodeError):
        assert result.reason in DeadLetterReason
