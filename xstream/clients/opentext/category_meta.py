"""Category values of a node by *name*: read the metadata, build the keyed update. Pure: no I/O.

``GET /api/v2/nodes/{id}/categories?metadata`` (reference/opentext-api.md 4.1) answers one result
per applied category: values flat under ``data.categories`` and, per key, a name under
``metadata.categories`` (the key without ``_`` is the category itself). Keys are
``{cat}_{attr}``; a set is an attribute of persona ``set`` (type ``Assoc``) whose members are
``{cat}_{set}_x_{attr}`` in metadata and ``{cat}_{set}_{row}_{attr}`` in values (rows 1-based).

:meth:`NodeCategory.keys` gives the request builders (:mod:`xstream.transform.opentext_requests`)
what they need to turn ``{"Status": "Open", "Contacts": [{"Name": "A"}]}`` into the PUT body
``{"23228_4": "Open", "23228_5_1_6": "A"}`` (:func:`~xstream.transform.opentext_requests.put_body`):
the keys, the types and the rows each set holds now (a list for a set replaces its rows, so members
of rows beyond the list are emptied).

The metadata also types each attribute (``type_name`` String, Integer, Real, Boolean, Date, User;
``persona`` "user"; ``multi_value``; ``max_length`` where the server gives one), so every value is
checked against it before a PUT (:func:`value_problem`): the rules' declared types are the first
check, this one catches a rule whose type disagrees with what OpenText says. A value that cannot be
the attribute's type is a permanent MappingError ``wrong_type`` (the sink dead-letters it), never
a PUT that OpenText refuses or, worse, stores as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from xstream.transform.opentext_requests import AttributeKey, CategoryKeys, row_key


class AttributeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    """``{cat}_{attr}``; set members ``{cat}_{set}_x_{attr}``."""
    name: str
    type_name: str | None = None
    persona: str = ""
    """``user`` for a user attribute on servers that mark it so; ``set`` for a set."""
    multi_value: bool = False
    max_length: int | None = None
    """The longest text the attribute takes, when the metadata says."""
    is_set: bool = False
    set_key: str | None = None
    """For a set member: the key of its set (``{cat}_{set}``)."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this attribute's value, as its metadata types it (:func:`value_problem`)."""
        return value_problem(self.type_name, value, multi_value=self.multi_value, persona=self.persona,
                             max_length=self.max_length)

    def describe(self) -> str:
        """The type as a refusal names it, e.g. ``Integer, multi-value``."""
        return type_label(self.type_name, persona=self.persona, multi_value=self.multi_value)


class NodeCategory(BaseModel):
    """One category applied to a node: its id, name, attribute definitions and current values."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    attributes: tuple[AttributeInfo, ...] = ()
    values: dict[str, Any] = Field(default_factory=dict)

    def top_level(self) -> list[AttributeInfo]:
        return [a for a in self.attributes if a.set_key is None]

    def members(self, set_key: str) -> list[AttributeInfo]:
        return [a for a in self.attributes if a.set_key == set_key]

    def keys(self) -> CategoryKeys:
        """This category as the request builders take it: keys and types by name, and the rows each set
        holds now, so that a PUT of fewer rows empties the rest."""
        attributes = tuple(
            AttributeKey(a.key, a.name, members=tuple(AttributeKey(m.key, m.name, m) for m in self.members(a.key)))
            if a.is_set else AttributeKey(a.key, a.name, a)
            for a in self.top_level())
        return CategoryKeys(str(self.id), self.name, attributes, where="the node",
                            rows={a.key: _row_count(self.values, a.key) for a in self.top_level() if a.is_set})


_MEMBER = re.compile(r"^(\d+_\d+)_(?:x|\d+)_(\d+)$")


def parse_node_categories(payload: Any) -> list[NodeCategory]:
    """The categories of a node from a ``?metadata`` answer (names fall back to ids without it)."""
    categories = []
    for result in payload["results"]:
        values = dict(result["data"]["categories"])
        meta = ((result.get("metadata") or {}).get("categories")) or {}
        order = ((result.get("metadata_order") or {}).get("categories")) or []
        cat_key = next((str(k) for k in order), None) or next((k for k in meta if "_" not in k), None)
        if cat_key is None:
            cat_key = next(iter(values), "0").split("_")[0]
        cat_meta = meta.get(cat_key) or {}
        attributes: list[AttributeInfo] = []
        seen: set[str] = set()
        for key, info in meta.items():
            if key == cat_key or not isinstance(info, Mapping) or key == f"{cat_key}_1":
                continue
            member = _MEMBER.match(key)
            if member:  # one entry per set member, whether metadata lists it per row or with "x"
                key = f"{member.group(1)}_x_{member.group(2)}"
            if key in seen:
                continue
            seen.add(key)
            max_length = info.get("max_length", info.get("maxLength"))
            attributes.append(AttributeInfo(
                key=key, name=str(info.get("name") or key), type_name=info.get("type_name"),
                persona=str(info.get("persona") or ""), multi_value=bool(info.get("multi_value")),
                max_length=max_length if isinstance(max_length, int) and max_length > 0 else None,
                is_set=info.get("persona") == "set" or info.get("type_name") in ("Assoc", "Set"),
                set_key=member.group(1) if member else None,
            ))
        categories.append(NodeCategory(id=int(cat_key), name=str(cat_meta.get("name") or cat_key),
                                       attributes=tuple(attributes), values=values))
    return categories


def find_category(categories: list[NodeCategory], name: str) -> NodeCategory | None:
    """By exact name, else case-insensitive name, else by id."""
    for match in (lambda c: c.name == name, lambda c: c.name.casefold() == name.strip().casefold(),
                  lambda c: str(c.id) == name.strip()):
        found = [c for c in categories if match(c)]
        if found:
            return found[0]
    return None


def values_by_name(category: NodeCategory) -> dict[str, Any]:
    """The category's values by attribute name; a set becomes a list of rows (member name -> value)."""
    named: dict[str, Any] = {}
    for attr in category.top_level():
        if not attr.is_set:
            named[attr.name] = category.values.get(attr.key)
            continue
        members = category.members(attr.key)
        named[attr.name] = [{m.name: category.values.get(row_key(attr.key, row, m.key)) for m in members}
                            for row in range(1, _row_count(category.values, attr.key) + 1)]
    return named


def is_applied(category: NodeCategory, update: Mapping[str, Any]) -> bool:
    """True when the node already holds every value of ``update`` (then no PUT is needed)."""
    return all(category.values.get(key) == value for key, value in update.items())


def _row_count(values: Mapping[str, Any], set_key: str) -> int:
    pattern = re.compile(rf"^{re.escape(set_key)}_(\d+)_\d+$")
    rows = [int(m.group(1)) for m in map(pattern.match, values) if m]
    return max(rows, default=0)


_KINDS = {
    "string": "string", "text": "string", "multiline": "string", "textfield": "string", "textpopup": "string",
    "integer": "integer", "int": "integer", "integerpopup": "integer",
    "real": "decimal", "number": "decimal", "double": "decimal", "float": "decimal", "decimal": "decimal",
    "boolean": "boolean", "bool": "boolean", "flag": "boolean", "checkbox": "boolean",
    "date": "date", "datetime": "date", "datepopup": "date",
    "user": "user", "userfield": "user",
}
"""OpenText's ``type_name`` (and the create form's JSON-schema ``type``), casefolded -> what the value must be.
An unknown type name is only held to "a scalar"."""
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")
_NUMBER = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
_BOOLEAN = ("true", "false", "1", "0")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?")
_FOUND_MAX = 80


def value_problem(type_name: str | None, value: Any, *, multi_value: bool = False, persona: str = "",
                  max_length: int | None = None) -> str | None:
    """Why ``value`` cannot be a value of an attribute OpenText describes so; None when it can (or is None).

    Refuses only what cannot be the type (an object anywhere, a list for a single value, text that is no
    integer for an Integer, no ISO date for a Date, ...): values are sent as they are, never converted.
    """
    if value is None:
        return None
    kind = "user" if persona.casefold() == "user" else _KINDS.get((type_name or "").casefold().replace(" ", ""))
    if isinstance(value, list | tuple):
        if not multi_value:
            return "a list for a single-value attribute"
        for number, item in enumerate(value, start=1):
            problem = None if item is None else _scalar_problem(kind, item, max_length)
            if problem is not None:
                return f"item {number}: {problem}"
        return None
    return _scalar_problem(kind, value, max_length)


def _scalar_problem(kind: str | None, value: Any, max_length: int | None) -> str | None:
    if not isinstance(value, str | int | float) or not _fits(kind, value):
        return f"{_kind(value)} {_preview(value)}"
    if max_length is not None and kind in ("string", "user") and isinstance(value, str) and len(value) > max_length:
        return f"text of {len(value)} characters (at most {max_length})"
    return None


def _fits(kind: str | None, value: str | int | float) -> bool:
    if kind == "string":
        return not isinstance(value, bool) and (not isinstance(value, float) or math.isfinite(value))
    if kind == "integer":
        return _is_integer(value)
    if kind == "decimal":
        return _is_number(value)
    if kind == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value.strip().casefold() in _BOOLEAN)
    if kind == "date":
        return isinstance(value, str) and _is_iso_date(value)
    if kind == "user":
        return (_is_integer(value) and int(value) > 0) or (isinstance(value, str) and bool(value.strip()))
    return True  # a type this client does not know: any scalar


def type_label(type_name: str | None, *, persona: str = "", multi_value: bool = False) -> str:
    """How a refusal names an attribute's type, from the metadata or the create form: ``Integer (user),
    multi-value``; ``untyped`` when neither gives one."""
    label = type_name or "untyped"
    if persona.casefold() == "user":
        label += " (user)"
    return label + (", multi-value" if multi_value else "")


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER.fullmatch(value))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and bool(_NUMBER.fullmatch(value)) and math.isfinite(float(value))


def _is_iso_date(text: str) -> bool:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS`` (optionally with fraction and zone), as reference 4 lists."""
    if not _ISO_DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    for kind, types in (("boolean", bool), ("integer", int), ("number", float), ("text", str),
                        ("object", dict), ("array", list | tuple)):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _preview(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<{value.bit_length()}-bit integer>"
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # too deep, or an integer beyond 64 bits inside
        text = f"<{_kind(value)} too large to show>"
    return text if len(text) <= _FOUND_MAX else text[: _FOUND_MAX - 1] + "…"
