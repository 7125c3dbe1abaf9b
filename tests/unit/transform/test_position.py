"""Source positions order changes within one connector's log, and refuse to compare across logs."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.model.position import (
    binlog_position,
    lsn_position,
    mssql_position,
    parse_position,
    position_order,
    scn_position,
)


def sign(n: int | None) -> int | None:
    return None if n is None else (n > 0) - (n < 0)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("lsn:9", "lsn:10", -1),
        ("lsn:10", "lsn:010", 0),
        ("binlog:mysql-bin.000003:999:0", "binlog:mysql-bin.000004:4:0", -1),
        ("binlog:mysql-bin.000009:4:0", "binlog:mysql-bin.000010:4:0", -1),  # by number, not text
        ("binlog:mysql-bin.000003:154:2", "binlog:mysql-bin.000003:154:1", 1),
        ("binlog:a-bin.000003:154:0", "binlog:b-bin.000003:154:0", None),  # another binlog series
        ("mssql:0000002a:00000758:0005:0000002a:00000758:0003", "mssql:0000002b:00000010:0002:0000002b:00000010:0001", -1),
        ("mssql:0000002a:00000758:0005:0000002a:00000758:0003", "mssql:0000002a:00000758:0005:0000002a:00000758:0004", -1),
        ("mssql:0000002A:00000758:0005:0000002a:00000758:0003", "mssql:0000002a:00000758:0005:0000002a:00000758:0003", 0),
        ("mssql::0000002a:00000758:0003", "mssql:0000002a:00000758:0005:0000002a:00000758:0003", -1),
        ("scn:9911:9912", "scn:9911:9913", -1),
        ("scn:10000:", "scn:9999:10001", 1),
        ("scn:9911:", "scn:9911:9912", -1),
        ("kafka:erp.cdc.customers/2@41", "kafka:erp.cdc.customers/2@100", -1),
        ("kafka:erp.cdc.customers/2@41", "kafka:erp.cdc.customers/3@100", None),
        ("kafka:a/2@41", "kafka:b/2@41", None),
        ("lsn:10", "scn:10:", None),
        ("lsn:10", "lsn:x", None),
        ("nonsense", "nonsense", None),
        ("lsn: 1", "lsn:1", None),
    ],
)
def test_examples(a: str, b: str, expected: int | None) -> None:
    assert sign(position_order(a, b)) == expected
    assert sign(position_order(b, a)) == (None if expected is None else -expected)


def test_builders_match_the_parser() -> None:
    assert lsn_position(24023128) == "lsn:24023128"
    assert lsn_position("0/16B3748") == f"lsn:{0x16B3748}"
    assert lsn_position("1/0") == f"lsn:{1 << 32}"
    assert lsn_position("garbage") is None and lsn_position(True) is None
    assert binlog_position("mysql-bin.000003", 154, None) == "binlog:mysql-bin.000003:154:0"
    assert mssql_position(None, "00000027:00000758:0003") == "mssql::00000027:00000758:0003"
    assert scn_position(9911) == "scn:9911:"
    for text in ("lsn:1", "binlog:f.1:2:3", "mssql::1:2:3", "mssql:1:2:3:", "scn:1:", "kafka:t/0@1"):
        assert parse_position(text) is not None, text


_hex = st.integers(0, 2**32 - 1).map(lambda n: f"{n:08x}")
_lsn = st.tuples(_hex, _hex, st.integers(0, 0xFFFF).map(lambda n: f"{n:04x}")).map(":".join)
scns = st.builds(scn_position, st.integers(0, 10**15), st.none() | st.integers(0, 10**15))
positions = st.one_of(
    st.integers(0, 2**64).map(lambda n: f"lsn:{n}"),
    st.builds(binlog_position, st.sampled_from(["mysql-bin", "other-bin"]).flatmap(
        lambda base: st.integers(1, 12).map(lambda n: f"{base}.{n:06d}")),
        st.integers(0, 10**9), st.integers(0, 5)),
    st.builds(mssql_position, st.none() | _lsn, _lsn),
    scns,
    st.builds(lambda t, p, o: f"kafka:{t}/{p}@{o}", st.sampled_from(["a.b", "c-d"]), st.integers(0, 3),
              st.integers(0, 10**6)),
)


@given(positions, positions)
def test_antisymmetric(a: str, b: str) -> None:
    ab, ba = position_order(a, b), position_order(b, a)
    assert (ab is None) == (ba is None)
    if ab is not None and ba is not None:
        assert sign(ab) == -sign(ba)  # type: ignore[operator]
    if a == b:
        assert ab == 0


@given(positions, positions, positions)
def test_transitive(a: str, b: str, c: str) -> None:
    ab, bc, ac = position_order(a, b), position_order(b, c), position_order(a, c)
    if ab is None or bc is None:
        return
    assert ac is not None  # comparability is an equivalence within a family
    if ab <= 0 and bc <= 0:
        assert ac <= 0
    if ab >= 0 and bc >= 0:
        assert ac >= 0


@given(st.lists(st.integers(0, 2**70), min_size=2, max_size=8))
def test_lsn_order_is_the_integer_order(numbers: list[int]) -> None:
    ordered = sorted((f"lsn:{n}" for n in numbers), key=functools.cmp_to_key(lambda x, y: position_order(x, y) or 0))
    assert ordered == [f"lsn:{n}" for n in sorted(numbers)]


@given(st.lists(scns, min_size=2, max_size=8))
def test_sorting_is_consistent_within_a_family(items: list[str]) -> None:
    ordered = sorted(items, key=functools.cmp_to_key(lambda x, y: position_order(x, y) or 0))
    assert all((position_order(x, y) or 0) <= 0 for x, y in zip(ordered, ordered[1:], strict=False))


@given(st.text(max_size=40), st.text(max_size=40))
def test_never_raises(a: str, b: str) -> None:
    assert position_order(a, b) in (None, -1, 0, 1)
