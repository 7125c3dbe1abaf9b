"""Attribute types: each type takes what it can hold without loss and refuses the rest, with a bounded detail."""

from __future__ import annotations

import pytest

from xstream.transform.value_types import FOUND_MAX, ValueType, WrongType, describe, template_text


@pytest.mark.parametrize(("type_", "given", "expected"), [
    ("string", "Globex", "Globex"),
    ("string", "", ""),
    ("string", 42, "42"),
    ("string", -7, "-7"),
    ("string", 2.5, "2.5"),
    ("integer", 42, 42),
    ("integer", "42", 42),
    ("integer", " -7 ", -7),
    ("integer", "+3", 3),
    ("integer", 42.0, 42),
    ("integer", 2**31 - 1, 2**31 - 1),
    ("decimal", 12, 12),
    ("decimal", 12.5, 12.5),
    ("decimal", "12.50", 12.5),
    ("decimal", "-0.1", -0.1),
    ("decimal", "1e3", 1000.0),
    ("decimal", ".5", 0.5),
    ("boolean", True, True),
    ("boolean", False, False),
    ("boolean", 1, True),
    ("boolean", 0, False),
    ("boolean", "TRUE", True),
    ("boolean", "false", False),
    ("boolean", "1", True),
    ("boolean", " 0 ", False),
    ("date", "2025-03-01", "2025-03-01"),
    ("date", "2025-03-01T10:00:00", "2025-03-01"),
    ("date", "2025-03-01 23:59:59.123456789", "2025-03-01"),
    ("date", "2025-03-01T10:00:00Z", "2025-03-01"),
    ("date", "2025-03-01T23:30:00-05:00", "2025-03-02"),  # an offset: the UTC date
    ("date", "2025-03-01T00:30:00+0100", "2025-02-28"),
    ("date", 0, "1970-01-01"),
    ("date", 20148, "2025-03-01"),  # Debezium io.debezium.time.Date: days since the epoch
    ("date", -1, "1969-12-31"),
    ("user", "j.doe", "j.doe"),
    ("user", "a.schmidt@example.com", "a.schmidt@example.com"),
    ("user", "DOMAIN\\Jane Doe", "DOMAIN\\Jane Doe"),
    ("user", 1001, 1001),
    ("user", "", None),  # an empty login names nobody
    ("user", "  ", None),
])
def test_what_each_type_takes(type_: str, given: object, expected: object) -> None:
    coerced = ValueType(type_).coerce(given)  # type: ignore[arg-type]
    assert coerced == expected and type(coerced) is type(expected)


@pytest.mark.parametrize(("type_", "given"), [
    ("string", True),
    ("string", {"first": "Ada"}),
    ("string", ["a"]),
    ("string", float("nan")),
    ("string", float("inf")),
    ("integer", True),
    ("integer", "4.2"),
    ("integer", 4.2),
    ("integer", "42abc"),
    ("integer", "1_000"),
    ("integer", "٤٢"),  # Arabic-Indic digits: int() takes them, OpenText would not
    ("integer", ""),
    ("integer", 2**31),
    ("integer", -(2**31) - 1),
    ("integer", {"value": 1}),
    ("decimal", False),
    ("decimal", "NaN"),
    ("decimal", "1,5"),
    ("decimal", "123456789.123456789"),  # a double cannot hold it exactly
    ("decimal", 2**53 + 1),
    ("decimal", "1e400"),
    ("decimal", float("inf")),
    ("decimal", [1.5]),
    ("boolean", "yes"),
    ("boolean", 2),
    ("boolean", 1.0),
    ("boolean", ""),
    ("date", "2025-02-30"),
    ("date", "01.03.2025"),
    ("date", "2025-W09-6"),
    ("date", "20250301"),
    ("date", "2025-03-01T25:00:00"),
    ("date", True),
    ("date", 20148.5),
    ("date", 10**12),  # 2.7 billion years of days
    ("date", {"days": 1}),
    ("user", " j.doe"),
    ("user", "j.doe\n"),
    ("user", "x" * 256),
    ("user", 0),
    ("user", -5),
    ("user", 2**31),
    ("user", 4.0),
    ("user", False),
    ("user", ["j.doe"]),
])
def test_what_each_type_refuses(type_: str, given: object) -> None:
    with pytest.raises(WrongType) as caught:
        ValueType(type_).coerce(given)  # type: ignore[arg-type]
    assert caught.value.expected.startswith(type_)


def test_epoch_units_for_debezium_timestamps() -> None:
    assert ValueType("date", epoch="ms").coerce(1_740_826_800_000) == "2025-03-01"  # 2025-03-01T11:00:00Z
    assert ValueType("date", epoch="us").coerce(1_740_826_800_000_000) == "2025-03-01"
    assert ValueType("date", epoch="ms").coerce("2025-03-01") == "2025-03-01"  # text stays accepted


def test_max_length_refuses_longer_text_and_never_cuts_it() -> None:
    short = ValueType("string", max_length=5)
    assert short.coerce("12345") == "12345" and short.coerce(12345) == "12345"
    with pytest.raises(WrongType, match=r"expected string of at most 5 characters, found text \"123456\" \(6 characters\)"):
        short.coerce("123456")
    assert ValueType("user", max_length=3).coerce("abc") == "abc"
    with pytest.raises(WrongType):
        ValueType("user", max_length=3).coerce("abcd")


def test_multi_value_takes_a_list_of_fitting_items() -> None:
    tags = ValueType("integer", multi_value=True)
    assert tags.coerce([1, "2", 3.0]) == [1, 2, 3]
    assert tags.coerce(7) == [7]  # a single value is a one-item list
    assert tags.coerce([]) == []
    assert ValueType("user", multi_value=True).coerce(["j.doe", "", 5]) == ["j.doe", 5]
    with pytest.raises(WrongType, match=r"expected list of integer, found array \[1,\"x\"\] \(item 2: expected integer"):
        tags.coerce([1, "x"])
    for bad in ([1, None], [[1]], [{"a": 1}]):
        with pytest.raises(WrongType):
            tags.coerce(bad)


def test_null_is_no_value_for_every_type() -> None:
    for type_ in ("string", "integer", "decimal", "boolean", "date", "user"):
        assert ValueType(type_).coerce(None) is None  # type: ignore[arg-type]
        assert ValueType(type_, multi_value=True).coerce(None) is None  # type: ignore[arg-type]


def test_source_values_must_be_scalars_before_any_map() -> None:
    ValueType("string").check_source("x")
    ValueType("string").check_source(None)
    ValueType("integer", multi_value=True).check_source([1, 2])
    for bad in ({"a": 1}, [1]):
        with pytest.raises(WrongType):
            ValueType("string").check_source(bad)
    with pytest.raises(WrongType):
        ValueType("string", multi_value=True).check_source([{"a": 1}])


def test_the_detail_is_bounded_and_says_what_was_found() -> None:
    huge = {"first": "A" * 10_000, "nested": [list(range(100))]}
    found = describe(huge)
    assert found.startswith('object {"first":"AAA') and len(found) <= len("object ") + FOUND_MAX
    assert found.endswith("…")
    assert describe(2**100) == "integer <101-bit integer>"
    deep: list = []
    for _ in range(1000):
        deep = [deep]
    assert describe(deep) == "array <array too large to show>"
    assert describe(None) == "null null" and describe("x") == 'text "x"'


def test_templates_take_scalars_only() -> None:
    assert [template_text(v) for v in ("a", 7, 2.5, True, False)] == ["a", "7", "2.5", "true", "false"]
    for bad in ({"first": "Ada"}, ["a"], 2**70, float("nan")):
        with pytest.raises(WrongType, match="expected text, number or boolean"):
            template_text(bad)
