"""Nodes: read, browse (paged or as one async stream), folders, rename/move/delete, versions, audit.

Paths used (reference/opentext-api.md 5.2, 5.3, 5.5-5.7, 7.3): ``GET|PUT|DELETE /api/v2/nodes/{id}``,
``GET /api/v2/nodes/{id}/nodes`` (paging in ``collection.paging``), ``POST /api/v2/nodes`` with
``body=<JSON>`` for folders, ``GET /api/v2/nodes/{id}/versions``, ``GET /api/v2/nodes/{id}/audit``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from xstream.clients.opentext.base import ClientBase, paging, results_list, shape
from xstream.clients.opentext.models import FOLDER, AuditEvent, AuditPage, Node, NodePage, Version
from xstream.clients.opentext.transport import TARGET, json_body
from xstream.errors import AlreadyExists, SinkRejected

log = logging.getLogger(__name__)
PAGE_LIMIT = 100


class NodesApi(ClientBase):
    async def get_node(self, node_id: int) -> Node:
        payload = await self._call("nodes.get", "GET", f"/api/v2/nodes/{int(node_id)}")
        return shape("nodes.get", lambda: Node.from_properties(payload["results"]["data"]["properties"]))

    async def get_document(self, node_id: int) -> tuple[Node, int | None]:
        """A node and its latest version number (None for nodes without versions), in one call."""
        params = [("fields", "properties"), ("fields", "versions.element(0)")]
        payload = await self._call("nodes.get", "GET", f"/api/v2/nodes/{int(node_id)}", params=params)

        def read() -> tuple[Node, int | None]:
            data = payload["results"]["data"]
            node = Node.from_properties(data["properties"])
            versions = version_entries({"data": data}) if data.get("versions") else []
            return node, max((v.version_number for v in versions), default=None)

        return shape("nodes.get", read)

    async def children(
        self, node_id: int, *, where_name: str | None = None, where_type: int | Sequence[int] | None = None,
        sort: str | None = None, page: int = 1, limit: int = PAGE_LIMIT,
    ) -> NodePage:
        """One page of a container's children. ``where_name`` may match loosely on a real server."""
        params: list[tuple[str, str]] = [("page", str(page)), ("limit", str(limit))]
        if where_name is not None:
            params.append(("where_name", where_name))
        types = [where_type] if isinstance(where_type, int) else list(where_type or [])
        params += [("where_type", str(t)) for t in types]
        if sort:
            params.append(("sort", sort))
        payload = await self._call("nodes.children", "GET", f"/api/v2/nodes/{int(node_id)}/nodes", params=params)

        def read() -> NodePage:
            items = [Node.from_properties(r["data"]["properties"]) for r in results_list(payload)]
            p = paging(payload)
            return NodePage(items=items, page=p["page"] or page, limit=p["limit"] or limit,
                            total_count=p["total_count"], page_total=p["page_total"])

        return shape("nodes.children", read)

    async def iter_children(
        self, node_id: int, *, where_name: str | None = None, where_type: int | Sequence[int] | None = None,
        sort: str | None = None, limit: int = PAGE_LIMIT,
    ) -> AsyncIterator[Node]:
        """All children, page after page (one request per page, fetched as the caller consumes)."""
        page = 1
        while True:
            chunk = await self.children(node_id, where_name=where_name, where_type=where_type, sort=sort,
                                        page=page, limit=limit)
            for node in chunk.items:
                yield node
            if not chunk.items or not chunk.has_more:
                return
            page += 1

    async def find_child(self, parent_id: int, name: str, *, where_type: int | None = None) -> Node | None:
        """The child with exactly this name (``where_name`` narrows, the exact comparison decides)."""
        async for node in self.iter_children(parent_id, where_name=name, where_type=where_type):
            if node.name == name:
                return node
        return None

    async def create_folder(self, parent_id: int, name: str, *, description: str = "") -> int:
        """POST /api/v2/nodes ``body={"type": 0, ...}``; a taken name is AlreadyExists."""
        body = {"type": FOLDER, "parent_id": int(parent_id), "name": name, "description": description}
        payload = await self._call("nodes.create_folder", "POST", "/api/v2/nodes", data=json_body(body))
        return shape("nodes.create_folder", lambda: created_id(payload))

    async def ensure_folder_path(self, parent_id: int, path: Sequence[str]) -> int:
        """Find or create each folder of ``path`` below ``parent_id``; returns the last folder's id.

        Safe against concurrent creators: a create that fails with AlreadyExists is followed by one
        more lookup (the other creator's folder is the one we want). A name taken by something that
        is not a folder stays AlreadyExists.
        """
        if isinstance(path, str):
            raise TypeError("path must be a sequence of folder names, not a string")
        current = int(parent_id)
        for raw in path:
            name = raw.strip()
            if not name:
                raise SinkRejected(f"nodes.ensure_folder_path: empty folder name in {list(path)!r}", target=TARGET)
            found = await self.find_child(current, name, where_type=FOLDER)
            if found is None:
                try:
                    current = await self.create_folder(current, name)
                    continue
                except AlreadyExists:
                    found = await self.find_child(current, name, where_type=FOLDER)
                    if found is None:
                        raise
            current = found.id
        return current

    async def update_node(self, node_id: int, *, name: str | None = None, description: str | None = None,
                          parent_id: int | None = None, metadata_token: str | None = None) -> Node:
        """PUT /api/v2/nodes/{id} ``body=<JSON>``; 409 (token mismatch) is EditConflict."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if parent_id is not None:
            body["parent_id"] = int(parent_id)
        if metadata_token is not None:
            body["metadata_token"] = metadata_token
        payload = await self._call("nodes.update", "PUT", f"/api/v2/nodes/{int(node_id)}", data=json_body(body))
        props = _properties(payload)
        return Node.from_properties(props) if props is not None else await self.get_node(node_id)

    async def rename(self, node_id: int, name: str) -> Node:
        return await self.update_node(node_id, name=name)

    async def move(self, node_id: int, parent_id: int) -> Node:
        return await self.update_node(node_id, parent_id=parent_id)

    async def delete_node(self, node_id: int) -> None:
        """DELETE /api/v2/nodes/{id} (to the recycle bin where one is enabled)."""
        await self._call("nodes.delete", "DELETE", f"/api/v2/nodes/{int(node_id)}")

    async def versions(self, node_id: int) -> list[Version]:
        """All versions of a document, oldest first."""
        payload = await self._call("nodes.versions", "GET", f"/api/v2/nodes/{int(node_id)}/versions")

        def read() -> list[Version]:
            found = [v for r in results_list(payload) for v in version_entries(r)]
            return sorted(found, key=lambda v: v.version_number)

        return shape("nodes.versions", read)

    async def node_audit(
        self, node_id: int, *, event_type: int | None = None, user_id: int | None = None,
        date_start: str | None = None, date_end: str | None = None, sort: str = "desc_audit_date",
        page: int = 1, limit: int = PAGE_LIMIT,
    ) -> AuditPage:
        """One page of a node's audit trail (dates ``YYYY-MM-DD``: the API filters by day)."""
        params = {"sort": sort, "page": str(page), "limit": str(limit)}
        for key, value in (("where_type", event_type), ("where_user_id", user_id),
                           ("where_audit_date_start", date_start), ("where_audit_date_end", date_end)):
            if value is not None:
                params[key] = str(value)
        payload = await self._call("nodes.audit", "GET", f"/api/v2/nodes/{int(node_id)}/audit", params=params)

        def read() -> AuditPage:
            data = payload["results"]["data"]
            events = [AuditEvent.model_validate(e) for e in data.get("audit") or []]
            types = {int(t["id"]): str(t["name"]) for t in data.get("audit_event_types") or []}
            p = paging(payload)
            return AuditPage(events=events, event_types=types, page=p["page"] or page, limit=p["limit"] or limit,
                             total_count=p["total_count"], page_total=p["page_total"])

        return shape("nodes.audit", read)

    async def iter_node_audit(
        self, node_id: int, *, event_type: int | None = None, date_start: str | None = None,
        date_end: str | None = None, sort: str = "asc_audit_date", limit: int = PAGE_LIMIT,
    ) -> AsyncIterator[AuditEvent]:
        """Every audit event of a node in ``sort`` order, page after page."""
        page = 1
        while True:
            chunk = await self.node_audit(node_id, event_type=event_type, date_start=date_start, date_end=date_end,
                                          sort=sort, page=page, limit=limit)
            for event in chunk.events:
                yield event
            more = chunk.page < chunk.page_total if chunk.page_total is not None else len(chunk.events) >= limit
            if not chunk.events or not more:
                return
            page += 1


def version_entries(result: Mapping[str, Any]) -> list[Version]:
    """``data.versions`` of one result: an object (one version) or a list, depending on the call."""
    raw = result["data"]["versions"]
    entries = raw if isinstance(raw, list) else [raw]
    return [Version.model_validate(_version_fields(v)) for v in entries]


def _version_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: raw.get(k) for k in ("version_number", "file_name", "file_size", "mime_type", "create_date",
                                      "file_create_date", "version_id", "locked_date", "locked_user_id")}
    fields["description"] = raw.get("description") or ""
    fields["locked"] = bool(raw.get("locked"))  # 0/1 ("Legacy" integer in the spec)
    fields["major"] = _first(raw, "version_major_number", "version_number_major")
    fields["minor"] = _first(raw, "version_minor_number", "version_number_minor")
    return {k: v for k, v in fields.items() if v is not None}


def _first(raw: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` the answer has (the spec's names, then the ones releases also send)."""
    return next((raw[k] for k in keys if raw.get(k) is not None), None)


def _properties(payload: Any) -> dict[str, Any] | None:
    """``results.data.properties`` of a single-item answer (also when ``results`` is a one-item list)."""
    results = payload.get("results") if isinstance(payload, Mapping) else None
    if isinstance(results, list):
        results = results[0] if results else None
    data = results.get("data") if isinstance(results, Mapping) else None
    props = data.get("properties") if isinstance(data, Mapping) else None
    return props if isinstance(props, dict) and "id" in props else None


def created_id(payload: Any) -> int:
    props = _properties(payload)
    if props is not None:
        return int(props["id"])
    return int(payload["results"]["id"])  # some releases answer {"results": {"id": ...}}
