"""Category values of a node by *name*: read the metadata, build the keyed update. Pure: no I/O.

``GET /api/v2/nodes/{id}/categories?metadata`` (reference/opentext-api.md 4.1) answers one result
per applied category: values flat under ``data.categories`` and, per key, a name under
``metadata.categories`` (the key without ``_`` is the category itself). Keys are
``{cat}_{attr}``; a set is an attribute of persona ``set`` (type ``Assoc``) whose members are
``{cat}_{set}_x_{attr}`` in metadata and ``{cat}_{set}_{row}_{attr}`` in values (rows 1-based).

:func:`category_update` turns ``{"Status": "Open", "Contacts": [{"Name": "A"}]}`` into
``{"23228_4": "Open", "23228_5_1_6": "A"}``. A list for a set replaces its rows: members of rows
beyond the list are emptied (``None``). A dict for a set fills its first row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from xstream.errors import DeadLetterReason, MappingError


class AttributeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    """``{cat}_{attr}``; set members ``{cat}_{set}_x_{attr}``."""
    name: str
    type_name: str | None = None
    multi_value: bool = False
    is_set: bool = False
    set_key: str | None = None
    """For a set member: the key of its set (``{cat}_{set}``)."""


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
            attributes.append(AttributeInfo(
                key=key, name=str(info.get("name") or key), type_name=info.get("type_name"),
                multi_value=bool(info.get("multi_value")),
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


def category_update(category: NodeCategory, values_by_name: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute names -> the flat ``{key: value}`` map of a PUT on this category."""
    update: dict[str, Any] = {}
    for attr_name, value in values_by_name.items():
        attr = _pick(attr_name, category.top_level(), f"attribute of category {category.name!r}")
        if not attr.is_set:
            update[attr.key] = value
            continue
        rows = [value] if isinstance(value, Mapping) else value
        if not isinstance(rows, list | tuple) or not all(isinstance(r, Mapping) for r in rows):
            raise MappingError(DeadLetterReason.MAPPING_FAILED,
                               f"set {attr.name!r} of category {category.name!r} takes a list of rows "
                               f"(objects by attribute name), got {type(value).__name__}")
        members = category.members(attr.key)
        for row, row_values in enumerate(rows, start=1):
            for member_name, member_value in row_values.items():
                member = _pick(member_name, members, f"attribute of set {attr.name!r}")
                update[_row_key(attr.key, row, member.key)] = member_value
        if not isinstance(value, Mapping):
            for row in range(len(rows) + 1, _row_count(category.values, attr.key) + 1):
                for member in members:
                    update[_row_key(attr.key, row, member.key)] = None
    return update


def values_by_name(category: NodeCategory) -> dict[str, Any]:
    """The category's values by attribute name; a set becomes a list of rows (member name -> value)."""
    named: dict[str, Any] = {}
    for attr in category.top_level():
        if not attr.is_set:
            named[attr.name] = category.values.get(attr.key)
            continue
        members = category.members(attr.key)
        named[attr.name] = [{m.name: category.values.get(_row_key(attr.key, row, m.key)) for m in members}
                            for row in range(1, _row_count(category.values, attr.key) + 1)]
    return named


def is_applied(category: NodeCategory, update: Mapping[str, Any]) -> bool:
    """True when the node already holds every value of ``update`` (then no PUT is needed)."""
    return all(category.values.get(key) == value for key, value in update.items())


def _row_key(set_key: str, row: int, member_key: str) -> str:
    return f"{set_key}_{row}_{member_key.rsplit('_', 1)[1]}"


def _row_count(values: Mapping[str, Any], set_key: str) -> int:
    pattern = re.compile(rf"^{re.escape(set_key)}_(\d+)_\d+$")
    rows = [int(m.group(1)) for m in map(pattern.match, values) if m]
    return max(rows, default=0)


def _pick(name: str, attributes: list[AttributeInfo], what: str) -> AttributeInfo:
    matches = [a for a in attributes if a.name == name] or [
        a for a in attributes if a.name.casefold() == name.strip().casefold()] or [
        a for a in attributes if a.key == name]
    if len(matches) == 1:
        return matches[0]
    problem = "ambiguous" if matches else "unknown"
    available = sorted({a.name for a in attributes})
    raise MappingError(DeadLetterReason.MAPPING_FAILED, f"{problem} {what}: {name!r}; known: {available}")
