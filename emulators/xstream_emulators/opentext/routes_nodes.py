"""Node routes: create folder/document (a file or a Large File Upload's ``upload_key``), read,
rename/move/reserve, delete, browse children, name validation, audit trail, the copy link, and the
categories of a node (reference 4, 5, 7.3).

The copy link is what Content Server's "Copy link" gives a user: ``{public base}/app/nodes/{id}``
(the Smart View address of the node), the public base being ``public_url`` of the configuration
(or the scheme and host the request came to) and the base path."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from xstream_emulators.opentext import audit, multipart, nodes, views
from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext import views_more as more
from xstream_emulators.opentext.encoding import read_form, read_params
from xstream_emulators.opentext.model import NOT_ACCESSIBLE, VOLUME_TYPES, ApiError, Node
from xstream_emulators.opentext.routes_documents import file_or_upload_key
from xstream_emulators.opentext.web_common import (
    CONFIG,
    json,
    page_limit,
    path_int,
    state_of,
    user_id,
    username,
)

DEFAULT_BROWSE_LIMIT = 25
"""Page size of /v2/nodes/{id}/nodes without ``limit`` (the real default is not confirmed)."""


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_post(f"{api}/v2/nodes", create_node, name="nodes.create")
    r.add_get(f"{api}/v2/nodes/{{node_id}}", get_node, name="nodes.get")
    r.add_put(f"{api}/v2/nodes/{{node_id}}", update_node, name="nodes.update")
    r.add_delete(f"{api}/v2/nodes/{{node_id}}", delete_node, name="nodes.delete")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/nodes", children, name="nodes.children")
    r.add_post(f"{api}/v1/validation/nodes/names", validate_names, name="nodes.validate_names")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/audit", node_audit, name="nodes.audit")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/copylink", copy_link, name="nodes.copylink")
    r.add_get(f"{api}/v1/forms/nodes/create", create_form, name="forms.node_create")
    r.add_get(f"{api}/v2/volumes", volumes, name="volumes.list")
    r.add_get(f"{api}/v2/volumes/{{volume_type}}", volume, name="volumes.get")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/categories", get_categories, name="nodes.categories")
    r.add_post(f"{api}/v2/nodes/{{node_id}}/categories", apply_category, name="categories.apply")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/categories/{{cat_id}}", get_category, name="nodes.category")
    r.add_put(f"{api}/v2/nodes/{{node_id}}/categories/{{cat_id}}", update_category, name="categories.update")
    r.add_delete(f"{api}/v2/nodes/{{node_id}}/categories/{{cat_id}}", delete_category, name="categories.delete")


async def create_node(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await read_form(request, state.content)
    try:
        upload, key = file_or_upload_key(request, form)
        node = nodes.create(state, username(request), form.params, upload)
        if key is not None:
            multipart.used(state, key)
    finally:
        form.discard()
    return json(request, views.node_result(state, node))


async def create_form(request: web.Request) -> web.Response:
    """GET /v1/forms/nodes/create?type=&parent_id=&category_id=...: the general form of a new node and,
    for each ``category_id`` (repeated), its categories form (keys, titles, types) as a create wants them."""
    state, q = state_of(request), request.query
    for required in ("type", "parent_id"):
        if not q.get(required):
            raise ApiError(400, f"Argument '{required}' is required")
    try:
        subtype, parent_id = int(q["type"]), int(q["parent_id"])
    except ValueError as exc:
        raise ApiError(400, "Invalid datatype specified for argument 'parent_id'") from exc
    if subtype not in nodes.CREATABLE:
        raise ApiError(500, f"Subtype {subtype} not registered")
    state.node(parent_id)
    category_ids: list[int] = []
    for raw in q.getall("category_id", []):
        if not raw.isdigit() or int(raw) not in state.categories:
            raise ApiError(400, f"Category ID {raw} is not a valid category.")
        category_ids.append(int(raw))
    general = {"data": {"name": "", "description": "", "type": subtype, "parent_id": parent_id},
               "schema": {"type": "object", "properties": {"name": {"title": "Name", "type": "string"},
                                                           "description": {"title": "Description", "type": "string"},
                                                           "type": {"type": "integer"},
                                                           "parent_id": {"type": "integer"}}}}
    return web.json_response({"forms": [general, views.categories_form(state, category_ids)]})


def _fields(request: web.Request) -> list[str]:
    return [f for raw in request.query.getall("fields", []) for f in _split_fields(raw)]


def _split_fields(raw: str) -> list[str]:
    """``properties{id,name}`` keeps its commas; plain lists are comma separated."""
    parts, depth, current = [], 0, ""
    for char in raw:
        depth += (char == "{") - (char == "}")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [p for p in [*parts, current.strip()] if p]


def _node_result(request: web.Request, node: Node) -> dict[str, Any]:
    state = state_of(request)
    fields = _fields(request)
    result = more.select_properties(views.node_result(state, node), fields)
    if "categories" in fields:
        result["data"]["categories"] = [dict(values) for values in node.categories.values()]
    if any(f.startswith("versions") for f in fields):
        versions = [more.version_json(node, v) for v in reversed(node.versions)]
        result["data"]["versions"] = versions[:1] if "versions.element(0)" in fields else versions
    return result


async def get_node(request: web.Request) -> web.Response:
    node = state_of(request).node(path_int(request, "node_id"))
    result = _node_result(request, node)
    if "state" in request.query or "state" in _fields(request):
        result["state"] = more.node_state(node)
    return json(request, result)


async def update_node(request: web.Request) -> web.Response:
    state = state_of(request)
    node = state.node(path_int(request, "node_id"))
    params = await read_params(request)
    nodes.update(state, username(request), node, params)
    results: dict[str, Any] = {}
    if params.get("metadata_token"):
        results["state"] = {"properties": {"metadata_token": node.metadata_token}}
    return json(request, results)


async def delete_node(request: web.Request) -> web.Response:
    state = state_of(request)
    nodes.delete(state, username(request), state.node(path_int(request, "node_id"), status=500))
    return json(request, {})


async def children(request: web.Request) -> web.Response:
    state = state_of(request)
    parent = state.node(path_int(request, "node_id"), status=500)
    q = request.query
    try:
        where_types = [int(v) for raw in q.getall("where_type", []) for v in raw.split(",") if v.strip()]
    except ValueError:
        raise ApiError(400, "One or more parameters are invalid") from None
    found, sort = nodes.children(state, parent, where_types=where_types, where_name=q.get("where_name") or None,
                                 sort=q.get("sort") or None)
    page, limit = page_limit(q, DEFAULT_BROWSE_LIMIT)
    chunk = found[(page - 1) * limit : page * limit]
    results = []
    for child in chunk:
        result = _node_result(request, child)
        if "state" in q or "state" in _fields(request):
            result["state"] = more.node_state(child)
        results.append(result)
    return json(request, results, collection={"paging": more.collection_paging(page, limit, len(found)),
                                              "sorting": more.sorting(sort)})


async def validate_names(request: web.Request) -> web.Response:
    """POST /v1/validation/nodes/names: only the names that are taken come back."""
    state = state_of(request)
    params = await read_params(request)
    if params.get("parent_id") in (None, ""):
        raise ApiError(400, "Body Parameter 'parent_id' is missing")
    try:
        parent_id = int(params["parent_id"])
    except (TypeError, ValueError):
        raise ApiError(400, "Body Parameter 'parent_id' is invalid") from None
    names = params.get("names")
    if names is None:
        raise ApiError(400, "Body Parameter 'names' is missing")
    if isinstance(names, str):
        names = _json_list(names)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "Body Parameter 'names' is invalid")
    parent = state.nodes.get(parent_id)
    if parent is None:
        raise ApiError(400, NOT_ACCESSIBLE)
    taken = state.children.get(parent.id, {})
    return web.json_response({"results": [{"name": n, "id": taken[n]} for n in names if n in taken]})


def _json_list(text: str) -> Any:
    """``names`` sent as a flat field: a JSON list, or a single name."""
    if text.strip().startswith("["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Body Parameter 'names' is invalid") from None
    return [text]


async def node_audit(request: web.Request) -> web.Response:
    state = state_of(request)
    node_id = path_int(request, "node_id")
    if node_id not in state.nodes:
        raise ApiError(400, NOT_ACCESSIBLE)
    events = state.audit_by_node.get(node_id, [])
    found = audit.query(events, request.query)
    page, limit = page_limit(request.query, 100)
    chunk = found[(page - 1) * limit : page * limit]
    sort = request.query.get("sort") or "desc_audit_date"
    return json(request, {"data": {"audit": [audit.entry(e) for e in chunk],
                                   "audit_event_types": audit.event_types(events)}},
                collection={"paging": more.collection_paging(page, limit, len(found)),
                            "sorting": more.sorting(sort)})


async def copy_link(request: web.Request) -> web.Response:
    """GET /v2/nodes/{id}/copylink: ``results.link`` (one object, as the file's arrays are answered)."""
    node = state_of(request).nodes.get(path_int(request, "node_id"))
    if node is None:
        raise ApiError(404, NOT_ACCESSIBLE)
    config = request.app[CONFIG]
    public = config.public_url or str(request.url.origin())
    return json(request, {"link": f"{public}{config.base_path}/app/nodes/{node.id}"})


def _volumes(request: web.Request) -> dict[int, Node]:
    state = state_of(request)
    return {n.type: n for n in state.nodes.values() if n.type in VOLUME_TYPES and n.parent_id == -1}


async def volumes(request: web.Request) -> web.Response:
    state = state_of(request)
    return json(request, [views.node_result(state, n) for _, n in sorted(_volumes(request).items())])


async def volume(request: web.Request) -> web.Response:
    """GET /v2/volumes/{type}: the root node of a volume (141 Enterprise, 133 Categories)."""
    raw = request.match_info["volume_type"]
    if not raw.lstrip("-").isdigit():
        raise ApiError(400, "Invalid datatype specified for argument 'volume_subtype'.")
    found = _volumes(request).get(int(raw))
    if found is None:
        raise ApiError(500, f"Subtype {raw} not registered")
    return json(request, _node_result(request, found))


# --- categories -------------------------------------------------------------------------------


def _node_for_categories(request: web.Request) -> Node:
    """The categories calls answer an unknown node with 500, unlike GET node."""
    return state_of(request).node(path_int(request, "node_id"), status=500)


async def get_categories(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _node_for_categories(request)
    return json(request, [views.category_result(state.categories[c], v) for c, v in node.categories.items()])


async def get_category(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _node_for_categories(request)
    cat_id = path_int(request, "cat_id")
    if cat_id not in node.categories:
        raise ApiError(400, f"Category ID '{cat_id}' is not a category on node '{node.id}'.")
    return json(request, views.category_result(state.categories[cat_id], node.categories[cat_id]))


async def apply_category(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _node_for_categories(request)
    cats.apply(state, node, await read_params(request), user_id(request))
    return json(request, {})


async def update_category(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _node_for_categories(request)
    cat_id = path_int(request, "cat_id")
    token = cats.update(state, node, cat_id, await read_params(request), user_id(request))
    results = {} if token is None else {"state": {"categories": {str(cat_id): {"metadata_token": token}}}}
    return json(request, results)


async def delete_category(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _node_for_categories(request)
    cats.remove(state, node, path_int(request, "cat_id"), user_id(request))
    return json(request, {})
