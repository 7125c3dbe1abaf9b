"""Business workspaces: types, lookup by business object, create (idempotent ensure), read, bulk upsert,
business-object references, related workspaces, roles and members (reference/opentext-api.md 2, 3, 6)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from xstream.clients.opentext.base import ClientBase, paging, results_list, shape
from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
from xstream.clients.opentext.models import (
    BulkUpsertItem,
    BusinessObjectRef,
    EnsureResult,
    Member,
    Node,
    RelatedWorkspace,
    Template,
    WorkspaceCreateRequest,
    WorkspaceDetail,
    WorkspaceRef,
    WorkspaceRole,
    WorkspaceType,
)
from xstream.clients.opentext.transport import json_body
from xstream.errors import AlreadyExists, SinkRejected, TargetNotFound
from xstream.transform.opentext_requests import WORKSPACES, lookup_params

log = logging.getLogger(__name__)


class WorkspacesApi(ClientBase):
    _types: list[WorkspaceType] | None
    _types_lock: asyncio.Lock
    _key_maps: dict[int, CategoryKeyMap]
    _category_ids: dict[str, int]

    async def workspace_types(self) -> list[WorkspaceType]:
        """All workspace types with their templates; read once per client (they rarely change)."""
        async with self._types_lock:
            if self._types is None:
                payload = await self._call("workspacetypes.list", "GET", "/api/v2/businessworkspacetypes",
                                           params={"expand_templates": "true"})
                self._types = shape("workspacetypes.list", lambda: [_workspace_type(r) for r in payload["results"]])
        return list(self._types)

    async def find_workspace(self, bo: BusinessObjectRef) -> WorkspaceRef | None:
        """The workspace linked to a business object, searching all workspaces (expanded view)."""
        payload = await self._call("workspaces.search", "GET", WORKSPACES, params=lookup_params(bo))
        refs = shape("workspaces.search", lambda: [_workspace_ref(r) for r in payload["results"]])
        if len(refs) > 1:
            log.warning("opentext: %d workspaces for %s/%s/%s, using the oldest", len(refs), bo.ext_system_id,
                        bo.bo_type, bo.bo_id)
        return min(refs, key=lambda r: r.node_id) if refs else None

    async def workspaces_of_type(self, type_id: int, *, page: int = 1, limit: int = 100) -> tuple[list[WorkspaceRef], bool]:
        """One page of all workspaces of a type (expanded view): the workspaces and whether more follow."""
        params = {"where_workspace_type_id": str(int(type_id)), "expanded_view": "true", "page": str(page),
                  "limit": str(limit)}
        payload = await self._call("workspaces.search", "GET", WORKSPACES, params=params)

        def read() -> tuple[list[WorkspaceRef], bool]:
            refs = [_workspace_ref(r) for r in payload["results"]]
            p = paging(payload)
            more = p["page_total"] is not None and (p["page"] or page) < p["page_total"]
            return refs, more or (p["page_total"] is None and len(refs) >= limit)

        return shape("workspaces.search", read)

    async def enclosing_workspace(self, node_id: int) -> int | None:
        """The workspace a node lives in (GET /api/v1/nodes/{id}/businessworkspace); None when in none."""
        try:
            payload = await self._call("nodes.businessworkspace", "GET",
                                       f"/api/v1/nodes/{int(node_id)}/businessworkspace")
        except TargetNotFound:
            raise
        except SinkRejected as exc:
            if exc.status == 400:  # "The node is not part of a business workspace."
                return None
            raise
        return shape("nodes.businessworkspace", lambda: int(payload["id"]) if payload.get("id") else None)

    async def create_workspace(self, request: WorkspaceCreateRequest) -> int:
        """POST /api/v2/businessworkspaces with ``body=<JSON>``; returns the new node id."""
        payload = await self._call("workspaces.create", "POST", WORKSPACES,
                                   data=json_body(request.to_body()))
        return shape("workspaces.create", lambda: int(payload["results"]["id"]))

    async def ensure_workspace(self, request: WorkspaceCreateRequest) -> EnsureResult:
        """Find or create the workspace of a business object, safe against concurrent creators.

        A create that fails as a duplicate (AlreadyExists, or a rejection such as "already linked")
        is followed by one more lookup: whoever won the race made the workspace we want. Other
        failures propagate; the retry policy's next attempt starts with a lookup anyway.
        """
        found = await self.find_workspace(request.business_object)
        if found is not None:
            return EnsureResult(node_id=found.node_id, created=False)
        try:
            node_id = await self.create_workspace(request)
        except (AlreadyExists, SinkRejected):
            found = await self.find_workspace(request.business_object)
            if found is None:
                raise
            return EnsureResult(node_id=found.node_id, created=False)
        return EnsureResult(node_id=node_id, created=True)

    async def category_keys(self, template_id: int) -> CategoryKeyMap:
        """Category/attribute titles -> keys of a template, from its create form; cached per template."""
        if template_id not in self._key_maps:
            payload = await self._call("forms.workspace_create", "GET", "/api/v2/forms/businessworkspaces/create",
                                       params={"template_id": str(template_id)})
            key_map = parse_create_form(payload)
            for info in key_map.categories:
                if info.id.isdigit():
                    self._category_ids.setdefault(info.name.casefold(), int(info.id))
            self._key_maps[template_id] = key_map
        return self._key_maps[template_id]

    async def get_workspace(self, workspace_id: int) -> WorkspaceDetail:
        """A workspace with its business properties, all business-object references and category values."""
        params = [("fields", f) for f in ("properties", "business_properties", "categories", "workspace_references")]
        payload = await self._call("workspaces.get", "GET", f"/api/v2/businessworkspaces/{int(workspace_id)}",
                                   params=params)

        def read() -> WorkspaceDetail:
            data = payload["results"]["data"]
            return WorkspaceDetail(
                node=Node.from_properties(data["properties"]),
                business_properties=dict(data.get("business_properties") or {}),
                references=[ref for r in data.get("workspace_references") or [] if (ref := _reference(r))],
                categories=_flat_categories(data.get("categories")),
            )

        return shape("workspaces.get", read)

    async def bulk_upsert_workspaces(self, requests: Sequence[WorkspaceCreateRequest]) -> list[BulkUpsertItem]:
        """PUT /api/v2/businessworkspaces ``{"bws_infos": [...]}``: create or update by business object.

        One result per request, in order; an entry with ``error_message`` failed on its own.
        """
        body = {"bws_infos": [r.to_body() for r in requests]}
        payload = await self._call("workspaces.bulk_upsert", "PUT", WORKSPACES, data=json_body(body))

        def read() -> list[BulkUpsertItem]:
            # The wrapper is not documented: a bare array (OpenAPI file), or under results[.data]
            results = payload if isinstance(payload, list) else payload["results"]
            entries = results.get("data", results.get("bws_infos")) if isinstance(results, Mapping) else results
            return [BulkUpsertItem(id=e.get("id") or None, error_message=str(e.get("error_message") or ""))
                    for e in entries]

        return shape("workspaces.bulk_upsert", read)

    async def add_workspace_reference(self, workspace_id: int, bo: BusinessObjectRef) -> None:
        """Link an existing workspace to (another) business object."""
        await self._call("workspaces.add_reference", "PUT",
                         f"/api/v2/businessworkspaces/{int(workspace_id)}/workspacereferences",
                         data={"ext_system_id": bo.ext_system_id, "bo_type": bo.bo_type, "bo_id": bo.bo_id})

    async def remove_workspace_reference(self, workspace_id: int, bo: BusinessObjectRef) -> None:
        await self._call("workspaces.remove_reference", "DELETE",
                         f"/api/v2/businessworkspaces/{int(workspace_id)}/workspacereferences",
                         params={"ext_system_id": bo.ext_system_id, "bo_type": bo.bo_type, "bo_id": bo.bo_id})

    async def related_workspaces(self, workspace_id: int, *, rel_type: str | None = None,
                                 limit: int = 500) -> list[RelatedWorkspace]:
        """Related workspaces (``rel_type`` ``child``/``parent`` filters), all pages."""
        related: list[RelatedWorkspace] = []
        page = 1
        while True:
            params = {"page": str(page), "limit": str(limit), "fields": "properties"}
            if rel_type:
                params["where_relationtype"] = rel_type
            payload = await self._call("workspaces.related", "GET",
                                       f"/api/v2/businessworkspaces/{int(workspace_id)}/relateditems", params=params)
            chunk = shape("workspaces.related", partial(_related_page, payload))
            related += chunk
            total = paging(payload)["page_total"]
            if not chunk or (page >= total if total is not None else len(chunk) < limit):
                return related
            page += 1

    async def add_related_workspace(self, workspace_id: int, related_id: int, *, rel_type: str = "child") -> None:
        """Relate two workspaces; an existing relation is reported as AlreadyExists by some releases."""
        await self._call("workspaces.relate", "POST", f"/api/v2/businessworkspaces/{int(workspace_id)}/relateditems",
                         data={"rel_bw_id": str(int(related_id)), "rel_type": rel_type})

    async def workspace_roles(self, workspace_id: int) -> list[WorkspaceRole]:
        payload = await self._call("workspaces.roles", "GET", f"/api/v2/businessworkspaces/{int(workspace_id)}/roles")
        return shape("workspaces.roles", lambda: [
            WorkspaceRole.model_validate(_props(r) | {"description": _props(r).get("description") or "",
                                                      "leader": bool(_props(r).get("leader"))})
            for r in results_list(payload)])

    async def role_members(self, workspace_id: int, role_id: int) -> list[Member]:
        payload = await self._call("workspaces.role_members", "GET",
                                   f"/api/v2/businessworkspaces/{int(workspace_id)}/roles/{int(role_id)}/members")
        return shape("workspaces.role_members", lambda: [Member.model_validate(_props(r)) for r in results_list(payload)])

    async def add_role_member(self, workspace_id: int, role_id: int, member_id: int) -> None:
        """Add a user or group to a role (no-op when it is a member already)."""
        if any(m.id == member_id for m in await self.role_members(workspace_id, role_id)):
            return
        await self._call("workspaces.add_role_member", "POST",
                         f"/api/v2/businessworkspaces/{int(workspace_id)}/roles/{int(role_id)}/members",
                         data={"id": str(int(member_id))})


def _props(result: Mapping[str, Any]) -> dict[str, Any]:
    return dict(result["data"]["properties"])


def _workspace_type(result: Mapping[str, Any]) -> WorkspaceType:
    props = result["data"]["properties"]
    creation = props.get("wksp_creation") or {}
    location = creation.get("location_value") if creation.get("location") == "StaticNodeId" else None
    return WorkspaceType(
        id=props["wksp_type_id"],
        name=props["wksp_type_name"],
        templates=[Template(id=t["id"], name=t["name"]) for t in props.get("templates") or []],
        location_id=int(location) if location else None,
    )


def _workspace_ref(result: Mapping[str, Any]) -> WorkspaceRef:
    props = result["data"]["properties"]
    return WorkspaceRef(node_id=props["id"], name=props["name"], parent_id=props.get("parent_id"),
                        type_id=props.get("wnf_wksp_type_id"))


def _related(result: Mapping[str, Any]) -> RelatedWorkspace:
    props = result["data"]["properties"]
    return RelatedWorkspace(node_id=props["id"], name=props["name"], rel_type=props.get("rel_type"),
                            type_id=props.get("wnf_wksp_type_id"))


def _related_page(payload: Mapping[str, Any]) -> list[RelatedWorkspace]:
    return [_related(r) for r in results_list(payload)]


def _reference(raw: Any) -> BusinessObjectRef | None:
    if not isinstance(raw, Mapping):
        return None
    ext = raw.get("ext_system_id") or raw.get("external_system_id")
    bo_type, bo_id = raw.get("business_object_type") or raw.get("bo_type"), raw.get("business_object_id") or raw.get("bo_id")
    if not (ext and bo_type and bo_id):
        return None
    return BusinessObjectRef(ext_system_id=str(ext), bo_type=str(bo_type), bo_id=str(bo_id))


def _flat_categories(raw: Any) -> dict[str, Any]:
    """Category values as one flat map, whether the answer lists them per category or keyed by id."""
    values: dict[str, Any] = {}
    entries = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, Mapping) else []
    for entry in entries:
        if isinstance(entry, Mapping):
            values |= {k: v for k, v in entry.items() if "_" in str(k)}
    if isinstance(raw, Mapping) and not values:
        values = {k: v for k, v in raw.items() if "_" in str(k)}
    return values
