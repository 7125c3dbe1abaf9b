"""Fuzzing the command topics' decoder, ``codec.decode_command``, with both topics' adapters.

Properties: random bytes and mutated valid commands raise nothing but a DecodeError with a reason and
a detail; whatever it accepts encodes and decodes back equal (a fixpoint); every valid command, with
any JSON values of up to ``MAX_COMMAND_NESTING`` levels, integers beyond 64 bits included, round-trips.
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
    RAW_FRAGMENTS,
    assert_typed_refusal,
    cdc_samples,
    fuzz,
    json_values,
    mutations,
    nested,
    opentext_samples,
    paths,
    replaced,
    sized,
    splice,
    tagged,
)
from xstream.codec import DETAIL_MAX, MAX_COMMAND_NESTING, decode_command, decode_opentext_event, encode
from xstream.dryrun.status import with_status
from xstream.errors import DeadLetterReason, DecodeError
from xstream.model.commands import (
    AnyDownstream,
    DownstreamCommand,
    EnsureWorkspace,
    UpdateWorkspace,
    WorkspaceCommand,
)
from xstream.model.documents import DocumentCommand, LockVersion
from xstream.model.record import RecordRef
from xstream.pipeline import Emit, Evaluated, process_cdc, process_opentext
from xstream.transform.rule_files import RULES_DIR, STATUS_RULES_DIR, load_rule_files, load_status_rule_files

WORKSPACE: TypeAdapter[Any] = TypeAdapter(WorkspaceCommand)
DOWNSTREAM: TypeAdapter[Any] = TypeAdapter(DownstreamCommand)
DOCUMENTS: TypeAdapter[Any] = TypeAdapter(DocumentCommand)
ADAPTERS = {"workspace": WORKSPACE, "downstream": DOWNSTREAM, "documents": DOCUMENTS}
MAX_BYTES = 64 * 1024
FAST = fuzz(200)


AnyCommand = EnsureWorkspace | UpdateWorkspace | AnyDownstream | LockVersion


def _workspace_commands() -> list[EnsureWorkspace | UpdateWorkspace]:
    rules = load_rule_files([RULES_DIR])
    out = [process_cdc(s.key, s.value, RecordRef(topic=s.topic, partition=1, offset=5), rules, max_bytes=MAX_BYTES)
           for s in cdc_samples()]
    return [o.command for o in out if isinstance(o, Emit)]


def _status_commands() -> list[AnyDownstream | LockVersion]:
    rules = load_status_rule_files([STATUS_RULES_DIR])
    commands: list[AnyDownstream | LockVersion] = []
    for _, raw, previous in opentext_samples():
        event = decode_opentext_event(raw, max_bytes=MAX_BYTES)
        memory = with_status(rules, event, previous) if previous is not None else None
        outcome = process_opentext(event.kafka_key.encode(), raw, RecordRef(topic="opentext.events", partition=0,
                                                                           offset=1), rules, memory, max_bytes=MAX_BYTES)
        assert isinstance(outcome, Evaluated)
        commands += outcome.evaluation.commands
    return commands


COMMANDS: list[tuple[str, AnyCommand]] = [("workspace", c) for c in _workspace_commands()] \
    + [("documents" if isinstance(c, LockVersion) else "downstream", c) for c in _status_commands()]
KINDS: dict[str, tuple[str, AnyCommand]] = {c.kind: (topic, c) for topic, c in COMMANDS}


def decoded(raw: bytes | None, topic: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """The command, or the DecodeError it raised; anything else fails the test."""
    try:
        return decode_command(raw, ADAPTERS[topic], max_bytes=max_bytes)
    except DecodeError as exc:
        assert_typed_refusal(exc.reason, exc.detail)
        assert len(exc.detail) <= DETAIL_MAX, exc.detail[:100]
        return exc
    except Exception as exc:  # noqa: BLE001 - the property is that nothing else escapes
        raise AssertionError(f"decode_command raised {type(exc).__name__}: {str(exc)[:300]}") from exc


def check(raw: bytes | None, topic: str) -> Any:
    """Refused with a DecodeError, or accepted and then a fixpoint of encode/decode."""
    result = decoded(raw, topic)
    if not isinstance(result, DecodeError):
        assert decoded(encode(result), topic) == result
    return result


def test_the_corpus_has_every_command_kind() -> None:
    assert set(KINDS) == {"ensure_workspace", "update_workspace", "start_approval", "update_record", "notify",
                          "lock_version"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_real_command_round_trips(kind: str) -> None:
    topic, command = KINDS[kind]
    assert decoded(encode(command), topic) == command


@FAST
@given(st.sampled_from(list(ADAPTERS)), st.binary(max_size=300))
def test_random_bytes(topic: str, raw: bytes) -> None:
    check(raw, topic)


@FAST
@given(st.sampled_from(list(ADAPTERS)), json_values)
def test_random_json(topic: str, value: Any) -> None:
    check(orjson.dumps(value), topic)


MUTATED = st.one_of([mutations(encode(c)).map(tagged(topic)) for topic, c in COMMANDS])


@fuzz(400)
@given(MUTATED)
def test_mutated_commands(case: tuple[str, bytes]) -> None:
    topic, raw = case
    check(raw, topic)


WRONG_TYPES: list[Any] = [None, True, 0, -1, 2**64 - 1, 2**70, 1.5, "", "text", [], [1], {}, {"a": 1}]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_wrong_json_types_in_every_field(kind: str) -> None:
    topic, command = KINDS[kind]
    doc = orjson.loads(encode(command))
    for path in paths(doc):
        for wrong in WRONG_TYPES:
            check(encode_any(replaced(doc, path, wrong)), topic)


ANY: TypeAdapter[Any] = TypeAdapter(Any)


def encode_any(doc: Any) -> bytes:
    """Like orjson.dumps, and integers beyond 64 bits too."""
    return ANY.dump_json(doc)


@pytest.mark.parametrize("fragment", RAW_FRAGMENTS, ids=lambda f: f[:24].decode("latin-1"))
@pytest.mark.parametrize("kind", ["ensure_workspace", "notify"])
def test_hostile_fragments_in_a_value_and_in_a_field(kind: str, fragment: bytes) -> None:
    topic, command = KINDS[kind]
    doc = orjson.loads(encode(command))
    anywhere = ("categories",) if kind == "ensure_workspace" else ("facts",)
    for path in [("idempotency_key",), anywhere, ("causation", "offset"), ()]:
        result = check(splice(doc, path, fragment), topic)
        if fragment.startswith((b"NaN", b"Inf", b"-Inf", b"1e400", b'"\\ud8', b'"\\udf', b'"a\\ud8', b'"\xff')):
            assert isinstance(result, DecodeError) and result.reason is DeadLetterReason.MALFORMED_JSON, result


def with_categories(values: dict[str, Any]) -> EnsureWorkspace:
    base = KINDS["ensure_workspace"][1]
    assert isinstance(base, EnsureWorkspace)
    return base.model_copy(update={"categories": {"Customer": values}})


@FAST
@given(st.dictionaries(st.text(max_size=10), json_values | st.integers(min_value=-(2**1000), max_value=2**1000),
                       max_size=5))
def test_any_json_attribute_values_round_trip_exactly(values: dict[str, Any]) -> None:
    command = with_categories(values)
    assert decoded(encode(command), "workspace") == command


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", sorted({*DEPTHS, MAX_COMMAND_NESTING - 3, MAX_COMMAND_NESTING - 2}))
def test_nesting_up_to_the_command_limit_round_trips_and_deeper_is_malformed(depth: int, kind: str) -> None:
    """A category value sits at level 4 (command, categories, category, value)."""
    doc = orjson.loads(encode(with_categories({"Owner": "x"})))
    raw = splice(doc, ("categories", "Customer", "Owner"), nested(depth, kind=kind))
    result = check(raw, "workspace")
    if depth + 3 <= MAX_COMMAND_NESTING:
        assert not isinstance(result, DecodeError), result
        assert result.categories["Customer"]["Owner"] == orjson.loads(nested(depth, kind=kind))
    else:
        assert isinstance(result, DecodeError) and result.reason is DeadLetterReason.MALFORMED_JSON, result


def test_null_and_empty_values_are_invalid_commands() -> None:
    for topic in ADAPTERS:
        assert decoded(None, topic).reason is DeadLetterReason.INVALID_COMMAND
        assert decoded(b"", topic).reason is DeadLetterReason.MALFORMED_JSON
        assert decoded(b"null", topic).reason is DeadLetterReason.INVALID_COMMAND
        assert decoded(b"{}", topic).reason is DeadLetterReason.INVALID_COMMAND


@pytest.mark.parametrize("field", ["kind", "idempotency_key", "name"])
def test_a_huge_value_in_the_wrong_place_gives_a_short_detail(field: str) -> None:
    doc = orjson.loads(encode(KINDS["ensure_workspace"][1]))
    result = decoded(orjson.dumps(replaced(doc, (field,), "x" * 50_000 if field != "idempotency_key" else [1] * 9000)),
                     "workspace")
    assert isinstance(result, DecodeError) and result.reason is DeadLetterReason.INVALID_COMMAND


def test_a_command_of_another_topic_is_an_invalid_command_naming_the_kind() -> None:
    result = decoded(encode(KINDS["notify"][1]), "workspace")
    assert isinstance(result, DecodeError) and result.reason is DeadLetterReason.INVALID_COMMAND
    assert "notify" in result.detail or "kind" in result.detail


@pytest.mark.parametrize("kind", ["update_workspace", "start_approval"])
def test_size_at_and_past_max_bytes(kind: str) -> None:
    topic, command = KINDS[kind]
    raw = encode(command)
    assert decoded(sized(raw, len(raw) + 10), topic, max_bytes=len(raw) + 10) == command
    past = decoded(sized(raw, len(raw) + 11), topic, max_bytes=len(raw) + 10)
    assert isinstance(past, DecodeError) and past.reason is DeadLetterReason.OVERSIZE


def test_duplicate_keys_take_the_last_value_like_every_json_reader() -> None:
    command = KINDS["update_workspace"][1]
    assert isinstance(command, UpdateWorkspace)
    raw = encode(command).replace(b'"name":', b'"name":"first","name":', 1)
    assert decoded(raw, "workspace") == command
