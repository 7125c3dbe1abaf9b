"""Fuzzing the OpenText events topic's pure entry point, ``process_opentext``, with the shipped status rules.

Properties: (1) it never raises: every record is Evaluated or a Reject with a dead-letter reason and a
detail; (2) every downstream command it makes is encoded and decoded back by ``decode_command`` with the
downstream topic's adapter, equal to the original; the document memory it keeps reads back equal too.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tests.unit.fuzz.corpus import (
    DEPTHS,
    assert_typed_refusal,
    every_wrong_type,
    fuzz,
    mutations,
    nested,
    never_raises,
    opentext_samples,
    sized,
    splice,
    tagged,
)
from xstream.codec import MAX_NESTING, decode_command, decode_opentext_event, encode
from xstream.dryrun.status import with_status
from xstream.errors import DeadLetterReason
from xstream.model.record import RecordRef
from xstream.pipeline import Evaluated, Reject, process_opentext
from xstream.routing import ROUTES
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files
from xstream.transform.status_engine import DocumentMemory

RULES = load_status_rule_files([STATUS_RULES_DIR])
ADAPTER_OF: dict[str, TypeAdapter[Any]] = {kind: route.command_type for route in ROUTES for kind in route.kinds}
"""A command's kind -> the type its command topic is read with (downstream targets, or the documents topic)."""
MAX_BYTES = 16 * 1024
COMMAND_MAX_BYTES = 1024 * 1024
RECORD = RecordRef(topic="opentext.events", partition=0, offset=11)
SAMPLES = opentext_samples()
FAST = fuzz(150)


def memory_for(raw: bytes, previous: str | None) -> DocumentMemory | None:
    """What the status flow knew before the sample: its document with the previous status, if it has one."""
    if previous is None:
        return None
    return with_status(RULES, decode_opentext_event(raw, max_bytes=MAX_BYTES), previous)


MEMORIES = {name: memory_for(raw, previous) for name, raw, previous in SAMPLES}
KEYS = {name: str(orjson.loads(raw)["document"]["node_id"]).encode() for name, raw, _ in SAMPLES}


def run(name: str, value: bytes | None, key: bytes | None = None, *, max_bytes: int = MAX_BYTES) -> Evaluated | Reject:
    used_key = KEYS[name] if key is None else key
    return never_raises(lambda: process_opentext(used_key, value, RECORD, RULES, MEMORIES[name], max_bytes=max_bytes))


def check(outcome: Evaluated | Reject) -> Evaluated | Reject:
    assert isinstance(outcome, Evaluated | Reject), outcome
    if isinstance(outcome, Reject):
        assert_typed_refusal(outcome.reason, outcome.detail)
        return outcome
    for command in outcome.evaluation.commands:
        raw = never_raises(partial(encode, command))
        assert never_raises(partial(decode_command, raw, ADAPTER_OF[command.kind], max_bytes=COMMAND_MAX_BYTES)) == command
    memory = outcome.evaluation.memory
    if memory is not None:  # the status flow keeps it in a table as JSON and reads it back
        kept = never_raises(memory.model_dump_json)
        assert never_raises(partial(DocumentMemory.model_validate_json, kept)) == memory
    return outcome


MUTATED = st.one_of([mutations(raw).map(tagged(name)) for name, raw, _ in SAMPLES])


@pytest.mark.parametrize("name", list(KEYS))
def test_every_sample_is_evaluated_and_its_commands_round_trip(name: str) -> None:
    raw = next(r for n, r, _ in SAMPLES if n == name)
    assert isinstance(check(run(name, raw)), Evaluated)


def test_the_samples_make_commands() -> None:
    made = []
    for name, raw, _ in SAMPLES:
        outcome = run(name, raw)
        assert isinstance(outcome, Evaluated)
        made += outcome.evaluation.commands
    assert {c.kind for c in made} == {"start_approval", "update_record", "notify", "lock_version"}


@FAST
@given(st.sampled_from(list(KEYS)), st.none() | st.binary(max_size=200), st.none() | st.binary(max_size=20))
def test_random_bytes_as_value_and_key(name: str, value: bytes | None, key: bytes | None) -> None:
    check(run(name, value, key if key is not None else b""))


@fuzz(300)
@given(MUTATED)
def test_mutated_events(case: tuple[str, bytes]) -> None:
    check(run(*case))


@pytest.mark.parametrize("name", list(KEYS))
def test_wrong_json_types_in_every_field(name: str) -> None:
    raw = next(r for n, r, _ in SAMPLES if n == name)
    for value in every_wrong_type(orjson.loads(raw)):
        check(run(name, value))


@pytest.mark.parametrize("value", [None, b"", b"null", b"{}", b"[]", b'""', b"0"])
def test_empty_and_null_values_are_refused(value: bytes | None) -> None:
    outcome = check(run("contract_signed", value))
    assert isinstance(outcome, Reject) and outcome.stage == "decode", outcome


@pytest.mark.parametrize("key", [b"", b"null", b"100123 ", b"\xff", b"0100123", "100123".encode("utf-16")])
def test_a_key_that_is_not_the_document_id_is_refused(key: bytes) -> None:
    name = "contract_signed"
    outcome = check(run(name, next(r for n, r, _ in SAMPLES if n == name), key))
    assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.WRONG_ENVELOPE


WHERE = {"value": (), "document": ("document",), "attributes": ("document", "attributes"),
         "attribute": ("document", "attributes", "Document", "Status"), "workspace": ("workspace",),
         "workspace attribute": ("workspace", "attributes", "Supplier", "Owner"), "changes": ("changes",),
         "hook id": ("hook_event_id",)}


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("where", list(WHERE))
def test_deep_nesting_anywhere_in_an_event(where: str, depth: int, kind: str) -> None:
    name = "contract_signed"
    doc = orjson.loads(next(r for n, r, _ in SAMPLES if n == name))
    outcome = check(run(name, splice(doc, WHERE[where], nested(depth, kind=kind)), max_bytes=1024 * 1024))
    if depth > MAX_NESTING:
        assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.MALFORMED_JSON, outcome


def test_size_at_and_past_max_bytes() -> None:
    name, raw, _ = SAMPLES[0]
    assert isinstance(check(run(name, sized(raw, 8192), max_bytes=8192)), Evaluated)
    past = check(run(name, sized(raw, 8193), max_bytes=8192))
    assert isinstance(past, Reject) and past.reason is DeadLetterReason.OVERSIZE
