"""Category values on nodes: apply, update (merge), remove, set rows, edit-conflict tokens. Pure.

Values are stored flat per (node, category) as the v2 API shows them: ``{cat}_{attr}`` for plain
attributes, ``{cat}_{set}_{row}_{attr}`` for rows of a set (rows 1-based; a set starts with one
empty row). Writers may also send a whole set the way the create/update forms show it: the set key
with a list of row objects whose keys use ``x`` for the row (``{"2006_7": [{"2006_7_x_8": "Jane"}]}``).
``{"{cat}_{set}_{row}": ""}`` removes a row (later rows move up). ``{cat}_1`` carries the
metadata token (reference 4.4): a stale token is 409 "Could not update metadata (edit conflict).".
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from xstream_emulators.opentext.model import (
    AUDIT_ATTRIBUTE_CHANGED,
    ApiError,
    Attribute,
    CategoryDef,
    Node,
)

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

ATTRIBUTE_KEY = re.compile(r"^(\d+)_")
EDIT_CONFLICT = "Could not update metadata (edit conflict)."


def new_token() -> str:
    return secrets.token_hex(16)


def default_values(category: CategoryDef) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr in category.attributes:
        if attr.is_set:
            values |= {_row_key(attr, 1, sub): None for sub in attr.set_attributes}
        else:
            values[attr.key] = None
    return values


def non_matching(cat_id: int, key: str, action: str = "Update") -> ApiError:
    return ApiError(400, f"Category ID '{cat_id}' was specified for Categories {action}, but a non-matching "
                         f"attribute ('{key}') was found")


def merge(category: CategoryDef, values: Mapping[str, Any], updates: Mapping[str, Any], *,
          action: str = "Update") -> dict[str, Any]:
    """``values`` with ``updates`` applied; 400 for a key that is not an attribute of ``category``."""
    merged = dict(values)
    token_key = f"{category.id}_1"
    for key, value in updates.items():
        if key == token_key:
            continue
        attr = category.attribute(key)
        if attr is not None and attr.is_set:
            _replace_rows(category, merged, attr, value, action)
        elif attr is not None:
            merged[key] = value
        else:
            _set_row_value(category, merged, key, value, action)
    return merged


def attribute_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that look like attribute keys (``{digits}_...``)."""
    return {k: v for k, v in params.items() if ATTRIBUTE_KEY.match(k)}


def group_flat(state: OpenTextState, flat: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """A flat ``roles.categories`` map (nodes/versions) -> {cat_id: {key: value}}; ``{cat}_1: {}`` applies
    a category with its defaults. Keys that are no attribute keys (``inheritance``) are ignored."""
    grouped: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        match = ATTRIBUTE_KEY.match(str(key))
        if match is None:
            continue
        cat_id = int(match.group(1))
        if cat_id not in state.categories:
            raise ApiError(400, f"Category ID '{cat_id}' is not a category (attribute '{key}').")
        grouped.setdefault(cat_id, {})[str(key)] = value
    return grouped


def apply_initial(state: OpenTextState, node: Node, grouped: Mapping[int, Mapping[str, Any]],
                  action: str = "Create") -> None:
    """Apply categories with initial values to a node being created (no audit: Create covers it)."""
    for cat_id, updates in grouped.items():
        category = state.categories[cat_id]
        base = node.categories.get(cat_id) or default_values(category)
        node.categories[cat_id] = merge(category, base, updates, action=action)
        node.category_tokens[cat_id] = new_token()


def apply(state: OpenTextState, node: Node, params: Mapping[str, Any], user_id: int) -> None:
    """POST /v2/nodes/{id}/categories: ``category_id`` plus optional initial values."""
    raw = params.get("category_id")
    if raw is None or raw == "":
        raise ApiError(400, "Missing required parameter 'category_id'")
    if isinstance(raw, bool) or not str(raw).strip().isdigit():
        raise ApiError(400, "Invalid datatype specified for argument 'category_id'")
    cat_id = int(str(raw).strip())
    category = state.categories.get(cat_id)
    if category is None:
        raise ApiError(400, "No permissions to access the attribute definition node")
    if cat_id in node.categories:
        raise ApiError(400, f"The attribute group '{category.name}' already exists")
    updates = attribute_keys(params)
    for key in updates:
        if not key.startswith(f"{cat_id}_"):
            raise non_matching(cat_id, key, "Create")
    node.categories[cat_id] = merge(category, default_values(category), updates, action="Create")
    node.category_tokens[cat_id] = new_token()
    state.touch(node, user_id)
    state.record(node.id, AUDIT_ATTRIBUTE_CHANGED, user_id)


def update(state: OpenTextState, node: Node, cat_id: int, params: Mapping[str, Any], user_id: int) -> str | None:
    """PUT /v2/nodes/{id}/categories/{cat_id}: merge values; returns the new token when one was sent."""
    category = state.categories.get(cat_id)
    if cat_id not in node.categories or category is None:
        raise ApiError(400, f"Category ID '{cat_id}' is not a category on node '{node.id}'.")
    updates = attribute_keys(params)
    if not updates and "metadata_token" not in params:
        raise ApiError(400, "Parameters are required for PUT, POST, and PATCH methods")
    for key in updates:
        if not key.startswith(f"{cat_id}_"):
            raise non_matching(cat_id, key)
    sent = sent_token(params, cat_id)
    if sent is not None and sent != node.category_tokens.get(cat_id):
        raise ApiError(409, EDIT_CONFLICT)
    merged = merge(category, node.categories[cat_id], updates)
    if merged != node.categories[cat_id]:
        node.categories[cat_id] = merged
        node.category_tokens[cat_id] = new_token()
        state.touch(node, user_id)
        state.record(node.id, AUDIT_ATTRIBUTE_CHANGED, user_id)
    return node.category_tokens[cat_id] if sent is not None else None


def remove(state: OpenTextState, node: Node, cat_id: int, user_id: int) -> None:
    if cat_id not in node.categories:
        raise ApiError(400, f"Category ID '{cat_id}' is not a category on node '{node.id}'.")
    del node.categories[cat_id]
    node.category_tokens.pop(cat_id, None)
    state.touch(node, user_id)
    state.record(node.id, AUDIT_ATTRIBUTE_CHANGED, user_id)


def sent_token(params: Mapping[str, Any], cat_id: int) -> str | None:
    """The metadata token from ``{cat}_1`` (object, or its JSON in a flat form) or ``metadata_token``."""
    holder = params.get(f"{cat_id}_1")
    if isinstance(holder, str) and holder.strip().startswith("{"):
        try:
            holder = orjson.loads(holder)
        except orjson.JSONDecodeError:
            raise ApiError(400, f"Invalid value for parameter '{cat_id}_1'.") from None
    if isinstance(holder, dict) and holder.get("metadata_token"):
        return str(holder["metadata_token"])
    token = params.get("metadata_token")
    return str(token) if token else None


def row_count(values: Mapping[str, Any], set_attr: Attribute) -> int:
    prefix = f"{set_attr.key}_"
    rows = [int(k[len(prefix):].split("_", 1)[0]) for k in values if k.startswith(prefix)]
    return max(rows, default=0)


def _row_key(set_attr: Attribute, row: int, sub: Attribute) -> str:
    return f"{set_attr.key}_{row}_{sub.attr_id}"


def _set_row_value(category: CategoryDef, values: dict[str, Any], key: str, value: Any, action: str) -> None:
    parts = key.split("_")
    set_attr = category.attribute("_".join(parts[:2])) if len(parts) in (3, 4) else None
    if set_attr is None or not set_attr.is_set or not parts[2].isdigit() or int(parts[2]) < 1:
        raise non_matching(category.id, key, action)
    row = int(parts[2])
    if len(parts) == 3:  # {cat}_{set}_{row}: "" removes the row
        if value not in ("", None):
            raise non_matching(category.id, key, action)
        _remove_row(values, set_attr, row)
        return
    sub = next((s for s in set_attr.set_attributes if s.attr_id == parts[3]), None)
    if sub is None:
        raise non_matching(category.id, key, action)
    if row > set_attr.max_rows:
        raise ApiError(400, f"The set '{set_attr.title}' allows at most {set_attr.max_rows} rows.")
    for extra in range(row_count(values, set_attr) + 1, row + 1):
        values |= {_row_key(set_attr, extra, s): None for s in set_attr.set_attributes}
    values[_row_key(set_attr, row, sub)] = value


def _remove_row(values: dict[str, Any], set_attr: Attribute, row: int) -> None:
    count = row_count(values, set_attr)
    if row > count:
        return
    for r in range(row, count):
        for sub in set_attr.set_attributes:
            values[_row_key(set_attr, r, sub)] = values.get(_row_key(set_attr, r + 1, sub))
    for sub in set_attr.set_attributes:
        values.pop(_row_key(set_attr, count, sub), None)


def _replace_rows(category: CategoryDef, values: dict[str, Any], set_attr: Attribute, rows: Any,
                  action: str) -> None:
    """The form shape: the set key with a list of row objects (keys with ``x`` or a row number)."""
    if isinstance(rows, dict):
        rows = [rows]
    if rows in ("", None):
        rows = []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise non_matching(category.id, set_attr.key, action)
    if len(rows) > set_attr.max_rows:
        raise ApiError(400, f"The set '{set_attr.title}' allows at most {set_attr.max_rows} rows.")
    for r in range(1, row_count(values, set_attr) + 1):
        for sub in set_attr.set_attributes:
            values.pop(_row_key(set_attr, r, sub), None)
    by_id = {s.attr_id: s for s in set_attr.set_attributes}
    for number, row in enumerate(rows, start=1):
        values |= {_row_key(set_attr, number, s): None for s in set_attr.set_attributes}
        for key, value in row.items():
            parts = str(key).split("_")
            if len(parts) != 4 or "_".join(parts[:2]) != set_attr.key or parts[3] not in by_id:
                raise non_matching(category.id, str(key), action)
            values[_row_key(set_attr, number, by_id[parts[3]])] = value
