"""Attribute types of the mapping rules: what a mapped value must be before it goes to OpenText. Pure.

OpenText category attributes are typed (text, integer, real, boolean, date, user; some multi-valued),
source rows are not: a malformed row can hold an object where a name belongs. Every value a rule maps
is checked here and coerced only where nothing is lost (the text "42" for an integer attribute, the
integer 42 for a text attribute), so a wrong-typed row is dead-lettered as ``wrong_type`` instead of
becoming a workspace called ``{'first': ...}``. The table is in the README ("Attribute types").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

import orjson

AttributeType = Literal["string", "integer", "decimal", "boolean", "date", "user"]
TYPE_NAMES: tuple[str, ...] = get_args(AttributeType)
EpochUnit = Literal["days", "ms", "us"]
EPOCH_UNITS: tuple[str, ...] = get_args(EpochUnit)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""Content Server keeps integer attributes (and user ids) in 32 bits."""
EXACT_FLOAT = 2**53
"""A real attribute is a double: integers beyond this would silently lose digits."""
LOGIN_MAX = 255
FOUND_MAX = 80
"""A refusal shows at most this much of the value: a detail names the problem, it does not carry the row."""

_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")
_DECIMAL = re.compile(r"\s*[+-]?([0-9]{1,400}(\.[0-9]{0,400})?|\.[0-9]{1,400})([eE][+-]?[0-9]{1,4})?\s*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(\.[0-9]{1,9})?"
                        r"(Z|[+-][0-9]{2}:?[0-9]{2})?")
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WrongType(ValueError):
    """A value that does not fit a type: what was expected and what was found (kind and a short preview)."""

    def __init__(self, expected: str, value: Any, why: str = "") -> None:
        self.expected = expected
        self.found = describe(value)
        self.why = why
        super().__init__(f"expected {expected}, found {self.found}" + (f" ({why})" if why else ""))


def kind_of(value: Any) -> str:
    """The JSON kind of a value, as refusals name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def describe(value: Any) -> str:
    """``object {"first":"Ada"}``: the kind and the JSON of the value, cut to :data:`FOUND_MAX` characters."""
    return f"{kind_of(value)} {preview(value)}"


def preview(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<{value.bit_length()}-bit integer>"
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # a huge integer or a very deep structure: name it, never crash on it
        text = f"<{kind_of(value)} too large to show>"
    return text if len(text) <= FOUND_MAX else text[: FOUND_MAX - 1] + "…"


def template_text(value: Any) -> str:
    """How a ``{field}`` placeholder shows a value: text as it is, numbers as JSON writes them, booleans as
    ``true``/``false``. An object or array has no text a person would want in a name: WrongType."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() <= 64:
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise WrongType("text, number or boolean", value)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


@dataclass(frozen=True)
class ValueType:
    """The declared type of one category attribute in a rule."""

    type: AttributeType = "string"
    max_length: int | None = None
    """For string and user: longer values are refused, never cut."""
    multi_value: bool = False
    """A multi-value attribute: a list of values of ``type`` (a single value becomes a one-item list)."""
    epoch: EpochUnit = "days"
    """For date: what an integer counts since 1970-01-01 (Debezium's Date is days, Timestamp ms,
    MicroTimestamp us)."""

    @property
    def name(self) -> str:
        """``integer``, ``string of at most 40 characters``, ``list of date``: how refusals name the type."""
        one = f"{self.type} of at most {self.max_length} characters" if self.max_length is not None else self.type
        return f"list of {one}" if self.multi_value else one

    def coerce(self, value: Any) -> Any:
        """The value as the attribute takes it; None stays None (it clears, or a default applies). WrongType if
        it does not fit."""
        if value is None:
            return None
        if not self.multi_value:
            return self._one(value)
        items = value if isinstance(value, list | tuple) else [value]
        coerced = []
        for number, item in enumerate(items, start=1):
            try:
                one = self._one(item)
            except WrongType as exc:
                raise WrongType(self.name, value, f"item {number}: {exc}") from None
            if one is not None:
                coerced.append(one)
        return coerced

    def check_source(self, value: Any) -> None:
        """A source value must be a scalar (or, for a multi-value attribute, a list of scalars) *before* a value
        map or a default could hide it."""
        items = value if self.multi_value and isinstance(value, list | tuple) else [value]
        if not all(is_scalar(item) for item in items):
            raise WrongType(self.name, value)

    def _one(self, value: Any) -> Any:
        if value is None:
            raise WrongType(self.type, value)
        return _COERCE[self.type](self, value)


def _string(spec: ValueType, value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64:
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    else:
        raise WrongType(spec.name, value)
    if spec.max_length is not None and len(text) > spec.max_length:
        raise WrongType(spec.name, value, f"{len(text)} characters")
    return text


def _integer(spec: ValueType, value: Any) -> int:
    if isinstance(value, bool):
        raise WrongType(spec.type, value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        raise WrongType(spec.type, value)
    if not INT_MIN <= number <= INT_MAX:
        raise WrongType(spec.type, value, "outside the 32-bit range of an OpenText integer")
    return number


def _decimal(spec: ValueType, value: Any) -> int | float:
    if isinstance(value, bool):
        raise WrongType(spec.type, value)
    if isinstance(value, int):
        if abs(value) > EXACT_FLOAT:
            raise WrongType(spec.type, value, "more digits than a real attribute holds")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        try:
            exact = Decimal(value.strip())
        except InvalidOperation:
            raise WrongType(spec.type, value) from None
        number = float(exact)
        if not math.isfinite(number) or Decimal(repr(number)) != exact:
            raise WrongType(spec.type, value, "a real attribute cannot hold it exactly")
        return number
    raise WrongType(spec.type, value)


def _boolean(spec: ValueType, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().casefold() in _TRUE + _FALSE:
        return value.strip().casefold() in _TRUE
    raise WrongType(spec.type, value)


def _date(spec: ValueType, value: Any) -> str:
    try:
        return _as_date(spec, value).isoformat()
    except WrongType:
        raise
    except (ValueError, OverflowError):  # 2025-02-30, 25:00, an epoch beyond year 9999
        raise WrongType(spec.type, value, "not a calendar date") from None


def _as_date(spec: ValueType, value: Any) -> date:
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > 10**17:
            raise OverflowError
        if spec.epoch == "days":
            return date(1970, 1, 1) + timedelta(days=value)
        step = timedelta(milliseconds=value) if spec.epoch == "ms" else timedelta(microseconds=value)
        return (_EPOCH + step).date()
    if isinstance(value, str):
        text = value.strip()
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
        stamp = _TIMESTAMP.fullmatch(text)
        if stamp:
            whole, fraction, zone = stamp.groups()
            parsed = datetime.fromisoformat(whole + (fraction or "")[:7] + (zone or ""))
            return parsed.astimezone(UTC).date() if parsed.tzinfo is not None else parsed.date()
    raise WrongType(spec.type, value)


def _user(spec: ValueType, value: Any) -> int | str | None:
    if isinstance(value, str) and not value.strip():
        return None  # an empty login names nobody: no user, like null
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= INT_MAX:
            raise WrongType(_USER, value, "a user id is a positive 32-bit integer")
        return value
    limit = spec.max_length or LOGIN_MAX
    if isinstance(value, str) and value.strip() == value and 0 < len(value) <= limit \
            and not any(ord(c) < 32 or ord(c) == 127 for c in value):
        return value
    raise WrongType(_USER, value)


_USER = "user (a login name or a numeric user id)"
_COERCE: dict[str, Callable[[ValueType, Any], Any]] = {
    "string": _string, "integer": _integer, "decimal": _decimal, "boolean": _boolean, "date": _date, "user": _user,
}
