"""Category values of a node, addressed by category and attribute *names*.

Paths (reference/opentext-api.md 4.1-4.4): ``GET /api/v2/nodes/{id}/categories?metadata`` (values
and names), ``POST /api/v2/nodes/{id}/categories`` (apply; ``body={"category_id": N}``),
``PUT /api/v2/nodes/{id}/categories/{cat_id}`` with ``body=<JSON>`` holding only that category's
keys (lists and set rows stay unambiguous in JSON; built by
:func:`xstream.transform.opentext_requests.put_body`, which the dry-run prints),
``GET /api/v2/nodes/{id}?state`` (metadata tokens for optimistic locking; a mismatch is 409 ->
EditConflict).

A category that is not on the node yet is applied first. Its id is found by name: from every
category the client has seen (node metadata, workspace create forms), else in the Categories
volume (``GET /api/v2/volumes/133``, then its children of type 131 by name).

Each value is checked against the attribute's type as the node's category metadata gives it
(``type_name``, ``persona``, ``multi_value``) before anything is written: a value the attribute
cannot take is a permanent MappingError ``wrong_type``, which the OpenText sink dead-letters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from xstream.clients.opentext.base import shape
from xstream.clients.opentext.category_meta import (
    NodeCategory,
    find_category,
    is_applied,
    parse_node_categories,
)
from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
from xstream.clients.opentext.models import DOCUMENT
from xstream.clients.opentext.nodes import NodesApi
from xstream.clients.opentext.transport import json_body
from xstream.errors import DeadLetterReason, MappingError, SinkRejected
from xstream.transform.opentext_requests import CategoryKeys, put_body

log = logging.getLogger(__name__)
CATEGORIES_VOLUME_TYPE = 133
CATEGORY = 131


class CategoriesApi(NodesApi):
    _category_ids: dict[str, int]
    """Category name (casefolded) -> id, learned from every answer that names categories."""
    _node_category_keys: dict[int, CategoryKeys]
    """Category id -> its keys and types for a new node (from the node create form)."""

    async def node_create_keys(self, parent_id: int, names: Iterable[str], *, subtype: int = DOCUMENT) -> CategoryKeyMap:
        """The keys a new node's ``roles.categories`` take for these categories (by name), from
        ``GET /api/v1/forms/nodes/create?type=&parent_id=&category_id=...``; cached per category (its
        keys do not depend on where the node goes), so a warm client makes no call at all."""
        wanted = {name: await self.category_id(name) for name in names}
        missing = sorted({cat for cat in wanted.values() if cat not in self._node_category_keys})
        if missing:
            params = [("type", str(subtype)), ("parent_id", str(int(parent_id)))] + [
                ("category_id", str(cat)) for cat in missing]
            payload = await self._call("forms.node_create", "GET", "/api/v1/forms/nodes/create", params=params)
            for keys in shape("forms.node_create", lambda: parse_create_form(payload).categories):
                if keys.id.isdigit():
                    self._node_category_keys[int(keys.id)] = keys
        found = [self._node_category_keys[cat] for cat in dict.fromkeys(wanted.values())
                 if cat in self._node_category_keys]
        return CategoryKeyMap(tuple(found))

    async def node_categories(self, node_id: int) -> list[NodeCategory]:
        """The categories applied to a node, with attribute names and current values."""
        payload = await self._call("categories.get", "GET", f"/api/v2/nodes/{int(node_id)}/categories",
                                   params={"metadata": "true"})
        categories = shape("categories.get", lambda: parse_node_categories(payload))
        for category in categories:
            self._category_ids.setdefault(category.name.casefold(), category.id)
        return categories

    async def get_categories(self, node_id: int) -> dict[str, Any]:
        """All category values of a node as one flat ``{"{cat}_{attr}": value}`` map."""
        values: dict[str, Any] = {}
        for category in await self.node_categories(node_id):
            values |= category.values
        return values

    async def apply_category(self, node_id: int, category_id: int, values: Mapping[str, Any] | None = None) -> None:
        """POST /api/v2/nodes/{id}/categories: put a category (with optional initial keyed values) on a node."""
        body = {"category_id": int(category_id), **(values or {})}
        await self._call("categories.apply", "POST", f"/api/v2/nodes/{int(node_id)}/categories", data=json_body(body))

    async def metadata_tokens(self, node_id: int) -> dict[int, str]:
        """Category id -> metadata token of a node (``GET /api/v2/nodes/{id}?state``), for locking."""
        payload = await self._call("nodes.state", "GET", f"/api/v2/nodes/{int(node_id)}", params={"state": "true"})

        def read() -> dict[int, str]:
            raw = payload["results"]["state"]["categories"]
            entries = raw.items() if isinstance(raw, Mapping) else ((e.get("id"), e) for e in raw)
            tokens = {}
            for cat_id, entry in entries:
                token = entry.get("metadata_token") if isinstance(entry, Mapping) else entry
                if isinstance(token, str):
                    tokens[int(cat_id)] = token
            return tokens

        return shape("nodes.state", read)

    async def update_categories(
        self, node_id: int, values_by_name: Mapping[str, Mapping[str, Any]], *,
        metadata_token: str | Mapping[str, str] | None = None,
    ) -> bool:
        """Set category attributes by name, e.g. ``{"Customer": {"Status": "Open", "Contacts": [{"Name": "A"}]}}``.

        Categories missing on the node are applied first. Each category is then PUT with only its own
        keys, and only when a value differs from what the node holds (a replay writes nothing).
        ``metadata_token`` (one token, or tokens by category name) turns on optimistic locking: the PUT
        is always sent and a token mismatch is EditConflict. Unknown names are MappingError; so is a
        value the node's metadata says the attribute cannot take (``wrong_type``, see
        :func:`~.category_meta.value_problem`), found before anything is written. True when anything was
        written (a category applied or a PUT sent), False when the node already held every value.
        """
        if not values_by_name:
            return False
        if isinstance(metadata_token, str) and len(values_by_name) > 1:
            raise ValueError("update_categories: one metadata_token given for several categories; pass them by name")
        categories = await self.node_categories(node_id)
        missing = [name for name in values_by_name if find_category(categories, name) is None]
        for name in missing:
            await self._apply_by_name(node_id, name, categories)
        if missing:
            categories = await self.node_categories(node_id)
        updates: list[tuple[str, NodeCategory, dict[str, Any]]] = []
        for name, values in values_by_name.items():  # every value checked before the first PUT
            category = find_category(categories, name)
            if category is None:
                raise MappingError(DeadLetterReason.MAPPING_FAILED,
                                   f"category {name!r} is not on node {node_id} even after applying it")
            updates.append((name, category, put_body(category.keys(), values)))
        wrote = bool(missing)
        for name, category, update in updates:
            token = metadata_token if not isinstance(metadata_token, Mapping) else metadata_token.get(name)
            if token is None and (not update or is_applied(category, update)):
                continue
            if token is not None:
                update[f"{category.id}_1"] = {"metadata_token": token}
            await self._call("categories.update", "PUT", f"/api/v2/nodes/{int(node_id)}/categories/{category.id}",
                             data=json_body(update))
            wrote = True
        return wrote

    async def put_category(self, node_id: int, category: CategoryKeys, values: Mapping[str, Any]) -> None:
        """One PUT of these attributes of a category already on the node, keyed as ``category`` says (the
        template's create form): no read first. For a caller that knows the node holds the category (it
        created it); a node without it answers with an error and the caller takes the reading path."""
        await self._call("categories.update", "PUT", f"/api/v2/nodes/{int(node_id)}/categories/{category.id}",
                         data=json_body(put_body(category, values)))

    async def _apply_by_name(self, node_id: int, name: str, categories: list[NodeCategory]) -> None:
        category_id = await self.category_id(name)
        try:
            await self.apply_category(node_id, category_id)
        except SinkRejected:  # 400 "already exists": a concurrent writer applied it first
            if find_category(await self.node_categories(node_id), name) is None:
                raise
        log.info("opentext: applied category %s (%d) to node %d", name, category_id, node_id)

    async def category_id(self, name: str) -> int:
        """The id of a category definition by name (or a numeric id as text); MappingError if unknown."""
        if name.strip().isdigit():
            return int(name)
        known = self._category_ids.get(name.strip().casefold())
        if known is not None:
            return known
        volume = await self._categories_volume()
        if volume is not None:
            found = await self.find_child(volume, name.strip(), where_type=CATEGORY)
            if found is not None:
                self._category_ids[name.strip().casefold()] = found.id
                return found.id
        raise MappingError(DeadLetterReason.MAPPING_FAILED,
                           f"unknown category {name!r}: not seen on any node or form, not in the Categories volume")

    async def _categories_volume(self) -> int | None:
        try:
            payload = await self._call("volumes.get", "GET", f"/api/v2/volumes/{CATEGORIES_VOLUME_TYPE}")
        except SinkRejected as exc:  # an old release without /v2/volumes, or no permission
            log.warning("opentext: no Categories volume (%s)", exc)
            return None
        return shape("volumes.get", lambda: int(payload["results"]["data"]["properties"]["id"]))
