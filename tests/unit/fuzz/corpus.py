"""Shared material for the fuzz tests: real sample records and strategies that break them.

Hostile JSON cannot always be built from Python values (orjson refuses to write NaN, lone surrogates
or 300 levels of nesting), so a mutation is *spliced* into the bytes of a valid record: the value at
one path is replaced by a placeholder, the record is dumped, and the placeholder's bytes are replaced
by the raw fragment (``NaN``, ``"\\ud800"``, 5000 ``[``...).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from xstream.errors import DeadLetterReason

DATA = Path(__file__).resolve().parents[2] / "data"
CDC_EVENTS = DATA / "events"
OPENTEXT_EVENTS = DATA / "opentext_events"
TOPICS = {"erp_customers": "erp.cdc.customers", "erp_suppliers": "erp.cdc.suppliers",
          "crm_accounts": "crm.cdc.accounts", "project_projects": "projects.cdc.projects"}
"""Sample file prefix -> the topic its shipped rule reads."""
DEPTHS = (10, 100, 199, 200, 254, 255, 256, 1000, 1023, 1024, 5000)
"""Nesting depths around every limit of the parsers involved: pydantic-core's JSON parser (200 levels),
pydantic's serializer (255), orjson (1024) and beyond."""
R = TypeVar("R")
SCALE = int(os.environ.get("XSTREAM_FUZZ_SCALE", "1"))
"""Multiplies every fuzz test's examples (``XSTREAM_FUZZ_SCALE=50`` for a long local or nightly run)."""


def fuzz(examples: int) -> settings:
    """Settings for a fuzz test: ``examples`` (times :data:`SCALE`), no deadline (the first call warms caches)."""
    return settings(max_examples=examples * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_SPLICE = "\u0000xstream-fuzz-splice\u0000"
_SPLICE_BYTES = orjson.dumps(_SPLICE)


@dataclass(frozen=True)
class CdcSample:
    name: str
    topic: str
    key: bytes | None
    value: bytes


def cdc_samples() -> list[CdcSample]:
    samples = []
    for path in sorted(CDC_EVENTS.glob("*.json")):
        if path.name.endswith(".key.json"):
            continue
        stem = path.name.removesuffix(".json")
        key = path.with_name(f"{stem}.key.json")
        samples.append(CdcSample(stem, TOPICS[stem.split(".")[0]], key.read_bytes() if key.exists() else None,
                                 path.read_bytes()))
    return samples


def opentext_samples() -> list[tuple[str, bytes, str | None]]:
    """(name, event bytes, the previous status when the sample has one)."""
    out = []
    for path in sorted(OPENTEXT_EVENTS.glob("*.json")):
        previous = path.with_suffix(".previous")
        out.append((path.stem, path.read_bytes(), previous.read_text().strip() if previous.exists() else None))
    return out


# -- values -------------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def nested(depth: int, *, kind: str = "list", leaf: bytes = b"1") -> bytes:
    """``depth`` levels of arrays or objects around ``leaf``, as raw JSON."""
    if kind == "list":
        return b"[" * depth + leaf + b"]" * depth
    return b'{"k":' * depth + leaf + b"}" * depth


RAW_FRAGMENTS: tuple[bytes, ...] = (
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 5000, b"-" + b"9" * 30, b"18446744073709551616",
    b"1.5e308", b"-0", b"0.000000000000000000000000000001",
    b'"\\ud800"', b'"\\udfff"', b'"a\\ud800b"', b'"\\ud800\\ud800"', b'"\xff\xfe"', b'"\xc3"', b'"\xed\xa0\x80"',
    b'"\\u0000"', b'""', b'"\\u00b2"', "\"١٢\"".encode(), b'"' + b"9" * 5000 + b'"', b'"-1"', b'" 1"',
    b"null", b"true", b"[]", b"{}", b'{"a":1,"a":2}', b'{"":null}', b'{"__op":"c"}',
    b'"' + b"x" * 300 + b'"', b'"   "',
    *(nested(d, kind=k) for d in DEPTHS for k in ("list", "dict")),
    nested(300, kind="list", leaf=nested(300, kind="dict")),
)
"""JSON (and not-quite-JSON) fragments that sit where a value should be."""


def wrong_types(value: Any) -> st.SearchStrategy[Any]:
    """Values of every other JSON type than ``value``'s."""
    return st.sampled_from([c for c in WRONG_TYPES if type(c) is not type(value)] or list(WRONG_TYPES))


WRONG_TYPES: tuple[Any, ...] = (None, True, 0, -1, 2**64 - 1, 1.5, "", "text", "²", "١٢", "9" * 5000, [], [1], {},
                                {"a": 1})
"""One value of every JSON type (and the edges orjson can write): what a field of the wrong type holds.
"²" and "١٢" pass ``str.isdigit`` (``int`` refuses the first), 5000 digits pass it and exceed ``int``'s limit."""


def every_wrong_type(doc: Any, *, skip: tuple[Any, ...] = ()) -> Iterator[bytes]:
    """The document with each of its values in turn replaced by each of :data:`WRONG_TYPES`
    (paths starting with ``skip`` are left alone: e.g. a schema block the decoder throws away)."""
    for path in paths(doc):
        if skip and path[:len(skip)] == skip and len(path) > len(skip):
            continue
        for wrong in WRONG_TYPES:
            if type(wrong) is not type(_at(doc, path)) or wrong != _at(doc, path):
                yield orjson.dumps(replaced(doc, path, wrong))


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a JSON document (the root is ``()``)."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*prefix, i))


def replaced(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: replaced(doc.get(head), rest, new)}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(doc)]


def splice(doc: Any, path: tuple[Any, ...], raw: bytes) -> bytes:
    """The document's bytes with the value at ``path`` replaced by the raw fragment."""
    return orjson.dumps(replaced(doc, path, _SPLICE)).replace(_SPLICE_BYTES, raw, 1)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Truncations, byte flips, wrong JSON types and hostile fragments at every path of a valid record."""
    doc = orjson.loads(valid)
    all_paths = list(paths(doc))
    path = st.sampled_from(all_paths)
    truncated = st.integers(0, len(valid) - 1).map(lambda n: valid[:n])
    flipped = st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
        lambda p: valid[:p[0]] + bytes([p[1]]) + valid[p[0] + 1:])
    typed = path.flatmap(lambda p: wrong_types(_at(doc, p)).map(lambda v: orjson.dumps(replaced(doc, p, v))))
    arbitrary = st.tuples(path, json_values).map(lambda pv: orjson.dumps(replaced(doc, pv[0], pv[1])))
    hostile = st.tuples(path, st.sampled_from(RAW_FRAGMENTS)).map(lambda pr: splice(doc, pr[0], pr[1]))
    duplicated = path.filter(lambda p: bool(p) and isinstance(p[-1], str)).map(lambda p: _duplicate_key(doc, p))
    return st.one_of(truncated, flipped, typed, arbitrary, hostile, duplicated)


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _duplicate_key(doc: Any, path: tuple[Any, ...]) -> bytes:
    """The object holding the last key of ``path`` gets that key a second time, with a wrong-typed value."""
    raw = orjson.dumps(replaced(doc, path, _SPLICE))
    name = orjson.dumps(path[-1])
    return raw.replace(_SPLICE_BYTES, b'"first", ' + name + b": [[{}]]", 1)


def tagged(tag: str) -> Callable[[bytes], tuple[str, bytes]]:
    """``raw -> (tag, raw)``: which sample (or topic) a mutated record came from."""
    return lambda raw: (tag, raw)


def sized(valid: bytes, size: int) -> bytes:
    """The record padded with trailing whitespace (still the same JSON) to exactly ``size`` bytes."""
    return valid + b" " * (size - len(valid))


# -- outcomes -----------------------------------------------------------------------------------------

def assert_typed_refusal(reason: object, detail: object) -> None:
    assert isinstance(reason, DeadLetterReason), reason
    assert isinstance(detail, str) and detail.strip(), f"empty detail for {reason}"


def never_raises(call: Callable[[], R]) -> R:
    """The call's result; any exception fails the test with its type (hypothesis shrinks the input)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the property is that nothing escapes
        raise AssertionError(f"raised {type(exc).__name__}: {str(exc)[:300]}") from exc
