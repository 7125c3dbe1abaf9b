"""Fuzzing the CDC topics' pure entry point, ``process_cdc``, with the shipped rules and real samples.

Properties: (1) it never raises: every record is an Emit, a Skip or a Reject with a dead-letter reason
and a detail; (2) every command it emits is encoded and decoded back by ``decode_command`` with the
workspace topic's adapter, equal to the original (what the sink runner reads is what was written).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tests.unit.fuzz.corpus import (
    DEPTHS,
    CdcSample,
    assert_typed_refusal,
    cdc_samples,
    every_wrong_type,
    fuzz,
    mutations,
    nested,
    never_raises,
    sized,
    splice,
)
from xstream.codec import MAX_NESTING, decode_command, encode
from xstream.errors import DeadLetterReason
from xstream.model.commands import WorkspaceCommand
from xstream.model.record import RecordRef
from xstream.pipeline import CdcOutcome, Emit, Reject, Skip, process_cdc
from xstream.transform.rule_files import RULES_DIR, load_rule_files

RULES = load_rule_files([RULES_DIR])
WORKSPACE: TypeAdapter[Any] = TypeAdapter(WorkspaceCommand)
MAX_BYTES = 16 * 1024
COMMAND_MAX_BYTES = 1024 * 1024
"""A command may be larger than its record (a template repeats a field), so the runner's limit is larger."""
SAMPLES = cdc_samples()
FAST = fuzz(150)


def flattened(sample: CdcSample) -> bytes:
    """The sample as ExtractNewRecordState would deliver it: the row with ``__`` metadata fields."""
    doc = orjson.loads(sample.value)
    env = doc.get("payload", doc)
    if "__op" in env or "__deleted" in env:
        return sample.value
    row = env["after"] if env["after"] is not None else env["before"]
    source = env.get("source") or {}
    meta = {"__op": env["op"], "__table": source.get("table"), "__source_ts_ms": source.get("ts_ms"),
            "__ts_ms": env.get("ts_ms"), "__deleted": "true" if env["op"] == "d" else "false"}
    meta.update({f"__{k}": source[k] for k in ("lsn", "file", "pos", "row") if k in source})
    return orjson.dumps({**row, **meta})


def run(sample: CdcSample, value: bytes | None, key: bytes | None = None, *, max_bytes: int = MAX_BYTES) -> CdcOutcome:
    record = RecordRef(topic=sample.topic, partition=0, offset=7)
    used_key = sample.key if key is None else key
    return never_raises(lambda: process_cdc(used_key, value, record, RULES, max_bytes=max_bytes))


def check(outcome: CdcOutcome) -> CdcOutcome:
    assert isinstance(outcome, Emit | Skip | Reject), outcome
    if isinstance(outcome, Reject):
        assert_typed_refusal(outcome.reason, outcome.detail)
    elif isinstance(outcome, Skip):
        assert outcome.why
    else:
        raw = never_raises(lambda: encode(outcome.command))
        back = never_raises(lambda: decode_command(raw, WORKSPACE, max_bytes=COMMAND_MAX_BYTES))
        assert back == outcome.command
    return outcome


VALUES = st.sampled_from(SAMPLES).flatmap(lambda s: mutations(s.value).map(lambda v: (s, v)))
FLAT_VALUES = st.sampled_from(SAMPLES).flatmap(lambda s: mutations(flattened(s)).map(lambda v: (s, v)))
KEYS = st.sampled_from([s for s in SAMPLES if s.key]).flatmap(
    lambda s: mutations(s.key or b"null").map(lambda k: (s, k)))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_every_sample_and_its_flattened_form_has_an_outcome_and_commands_round_trip(sample: CdcSample) -> None:
    assert not isinstance(check(run(sample, sample.value)), Reject)
    assert not isinstance(check(run(sample, flattened(sample))), Reject)


@FAST
@given(st.sampled_from(SAMPLES), st.none() | st.binary(max_size=200), st.none() | st.binary(max_size=200))
def test_random_bytes_as_key_and_value(sample: CdcSample, key: bytes | None, value: bytes | None) -> None:
    check(run(sample, value, key if key is not None else b""))


@FAST
@given(VALUES)
def test_mutated_envelopes(case: tuple[CdcSample, bytes]) -> None:
    check(run(*case))


@FAST
@given(FLAT_VALUES)
def test_mutated_flattened_rows(case: tuple[CdcSample, bytes]) -> None:
    check(run(*case))


@FAST
@given(KEYS)
def test_mutated_keys(case: tuple[CdcSample, bytes]) -> None:
    sample, key = case
    check(run(sample, sample.value, key))


@pytest.mark.parametrize("key", [b"null", b"", b"{}", b"[]", b'{"schema": {}, "payload": null}', b'"\\ud800"',
                                 b"NaN", b'{"customer_id": null}', b'{"customer_id": "1", "customer_id": [1]}'])
@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.name.endswith((".c", ".d"))], ids=lambda s: s.name)
def test_null_empty_and_odd_keys(sample: CdcSample, key: bytes) -> None:
    check(run(sample, sample.value, key))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_wrong_json_types_in_every_field_of_value_and_key(sample: CdcSample) -> None:
    for value in every_wrong_type(orjson.loads(sample.value), skip=("schema",)):
        check(run(sample, value))
    for key in every_wrong_type(orjson.loads(sample.key or b"null"), skip=("schema",)):
        check(run(sample, sample.value, key))


@pytest.mark.parametrize("value", [b"", b" ", b"null", b"{}", b"[]", b'""', b"0", b'{"schema": null, "payload": {}}',
                                   b'{"payload": null, "schema": {}}', b"\x00", b"\xef\xbb\xbf{}"])
def test_empty_and_null_values(value: bytes) -> None:
    outcome = check(run(SAMPLES[0], value))
    assert isinstance(outcome, Reject) or (isinstance(outcome, Skip) and outcome.tombstone is not None), outcome


def test_a_null_value_is_a_tombstone_even_with_a_null_key() -> None:
    for key in (b"", b"null", b'{"schema": {}, "payload": null}'):
        outcome = check(run(SAMPLES[0], None, key))
        assert isinstance(outcome, Skip) and outcome.tombstone is not None


LOCATIONS = ("value", "payload", "row", "id field", "field", "source", "source field", "flattened field", "key", "key field")


def deep_record(sample: CdcSample, where: str, fragment: bytes) -> tuple[bytes, bytes | None]:
    """(value, key) with the fragment at ``where``."""
    doc = orjson.loads(sample.value)
    env_path: tuple[str, ...] = ("payload",) if "payload" in doc else ()
    env = doc.get("payload", doc)
    row = "after" if env["after"] is not None else "before"
    id_field = next(iter(env[row]))  # used in templates (business object id, name)
    field = "owner" if "owner" in env[row] else id_field  # mapped to a category attribute as it is
    value, key = sample.value, sample.key
    if where == "value":
        value = fragment
    elif where == "payload":
        value = splice(doc, env_path, fragment)
    elif where == "row":
        value = splice(doc, (*env_path, row), fragment)
    elif where == "id field":
        value = splice(doc, (*env_path, row, id_field), fragment)
    elif where == "field":
        value = splice(doc, (*env_path, row, field), fragment)
    elif where == "source":
        value = splice(doc, (*env_path, "source"), fragment)
    elif where == "source field":
        value = splice(doc, (*env_path, "source", "table"), fragment)
    elif where == "flattened field":
        flat = orjson.loads(flattened(sample))
        value = splice(flat, (field,), fragment)
    elif where == "key":
        key = fragment
    else:
        key_doc = orjson.loads(sample.key or b'{"id": 1}')
        key_path = ("payload", next(iter(key_doc["payload"]))) if "payload" in key_doc else (next(iter(key_doc)),)
        key = splice(key_doc, key_path, fragment)
    return value, key


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("where", LOCATIONS)
def test_deep_nesting_in_keys_values_rows_and_fields(where: str, depth: int, kind: str) -> None:
    sample = next(s for s in SAMPLES if s.name == "erp_customers.c")
    value, key = deep_record(sample, where, nested(depth, kind=kind))
    outcome = check(run(sample, value, key, max_bytes=1024 * 1024))
    if depth > MAX_NESTING:
        assert isinstance(outcome, Reject) and outcome.stage == "decode"
        assert outcome.reason in (DeadLetterReason.MALFORMED_JSON, DeadLetterReason.KEY_UNDECODABLE,
                                  DeadLetterReason.WRONG_ENVELOPE), outcome


@pytest.mark.parametrize("depth", [MAX_NESTING - 2, MAX_NESTING - 1])
def test_the_nesting_limit_counts_the_envelope_levels(depth: int) -> None:
    """payload 1, after 2, the field's own levels from 3: ``MAX_NESTING - 2`` levels in a field still decode
    (the rules may refuse the value, but not the decoder); one more is malformed_json."""
    sample = next(s for s in SAMPLES if s.name == "erp_customers.c")
    doc = orjson.loads(sample.value)
    value = splice(doc, ("payload", "after", "owner"), nested(depth))
    outcome = check(run(sample, value))
    refused_at_decode = isinstance(outcome, Reject) and outcome.stage == "decode"
    assert refused_at_decode is (depth > MAX_NESTING - 2), outcome
    if refused_at_decode:
        assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.MALFORMED_JSON
        assert str(MAX_NESTING) in outcome.detail


@pytest.mark.parametrize("sample", SAMPLES[:3], ids=lambda s: s.name)
def test_size_at_and_past_max_bytes(sample: CdcSample) -> None:
    at = check(run(sample, sized(sample.value, 4096), max_bytes=4096))
    assert not isinstance(at, Reject)
    past = check(run(sample, sized(sample.value, 4097), max_bytes=4096))
    assert isinstance(past, Reject) and past.reason is DeadLetterReason.OVERSIZE
