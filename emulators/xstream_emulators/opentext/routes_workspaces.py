"""Business workspace routes: types, create form, create, bulk create-or-update, search, lookup by
business object, read, references, related items, roles and members (reference 2, 3, 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from xstream_emulators.opentext import teams, views, workspaces
from xstream_emulators.opentext import views_more as more
from xstream_emulators.opentext.encoding import bool_param, int_param, read_params
from xstream_emulators.opentext.model import ApiError, Node
from xstream_emulators.opentext.web_common import (
    MAX_LIMIT,
    json,
    page_limit,
    path_int,
    self_href,
    state_of,
    username,
)


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    bws = f"{api}/v2/businessworkspaces"
    r.add_get(f"{api}/v2/businessworkspacetypes", workspace_types, name="workspacetypes.list")
    r.add_get(f"{api}/v2/forms/businessworkspaces/create", create_form, name="forms.workspace_create")
    r.add_post(bws, create_workspace, name="workspaces.create")
    r.add_put(bws, bulk, name="workspaces.bulk")
    r.add_get(bws, search_workspaces, name="workspaces.search")
    r.add_get(f"{bws}/{{node_id}}", get_workspace, name="workspaces.get")
    r.add_get(f"{api}/v2/externalsystems/{{ext_system_id}}/botypes/{{bo_type}}/boids/{{bo_id}}",
              workspaces_by_bo, name="workspaces.by_bo")
    r.add_get(f"{api}/v1/nodes/{{node_id}}/businessworkspace", enclosing_workspace, name="nodes.businessworkspace")
    references = r.add_resource(f"{bws}/{{node_id}}/workspacereferences", name="workspaces.references")
    references.add_route("PUT", link_reference)
    references.add_route("DELETE", unlink_reference)
    related = r.add_resource(f"{bws}/{{node_id}}/relateditems", name="workspaces.relateditems")
    related.add_route("GET", related_items)
    related.add_route("POST", add_related_item)
    r.add_delete(f"{bws}/{{node_id}}/relateditems/{{rel_bw_id}}", remove_related_item,
                 name="workspaces.relateditems-delete")
    r.add_get(f"{bws}/{{node_id}}/roles", roles, name="workspaces.roles")
    r.add_get(f"{bws}/{{node_id}}/roles/{{role_id}}", one_role, name="workspaces.roles-one")
    role_members = r.add_resource(f"{bws}/{{node_id}}/roles/{{role_id}}/members", name="workspaces.members")
    role_members.add_route("GET", members)
    role_members.add_route("POST", add_member)
    r.add_delete(f"{bws}/{{node_id}}/roles/{{role_id}}/members/{{member_id}}", remove_member,
                 name="workspaces.members-delete")
    r.add_get(f"{bws}/{{node_id}}/members", all_members, name="workspaces.members-all")


async def workspace_types(request: web.Request) -> web.Response:
    q = request.query
    if bool(q.get("ext_system_id")) != bool(q.get("bo_type")):
        raise ApiError(400, "The parameters ext_system_id and bo_type must be provided together.")
    # With both given the real server filters by the business object type's workspace type; the
    # emulator registers no BO types, so every type qualifies.
    expand = bool_param(q, "expand_templates")
    state = state_of(request)
    results = [views.workspace_type_result(state, t, expand_templates=expand) for t in sorted(state.types)]
    if q.get("sort") == "desc_name":
        results.reverse()
    return json(request, results)


async def create_form(request: web.Request) -> web.Response:
    state = state_of(request)
    template_id = int_param(request.query, "template_id")
    if template_id is None:
        raise ApiError(400, "Either template_id, bo_type_id or ext_system_id and bo_type must be provided.")
    template = state.templates.get(template_id)
    if template is None:
        raise ApiError(404, f"The workspace template {template_id} could not be found.")
    parent_id = int_param(request.query, "parent_id")
    if parent_id is not None:
        state.node(parent_id)
    return web.json_response(views.create_form(state, template, parent_id))


async def create_workspace(request: web.Request) -> web.Response:
    node = state_of(request).create_workspace(username(request), await read_params(request))
    return json(request, {"id": node.id, "direct_open": True, "sub_folder_id": 0})


async def bulk(request: web.Request) -> web.Response:
    """The OpenAPI file declares a bare array of ``{"id", "error_message"}`` as the answer."""
    return web.json_response(workspaces.bulk(state_of(request), username(request), await read_params(request)))


async def search_workspaces(request: web.Request) -> web.Response:
    q = request.query
    nodes = state_of(request).search_workspaces(
        username(request),
        expanded=bool_param(q, "expanded_view"),
        bo={"ext_system_id": q.get("where_ext_system_id") or None, "bo_type": q.get("where_bo_type") or None,
            "bo_id": q.get("where_bo_id") or None},
        type_id=int_param(q, "where_workspace_type_id"),
        name=q.get("where_name") or None,
    )
    return _workspace_page(request, nodes)


async def workspaces_by_bo(request: web.Request) -> web.Response:
    m = request.match_info
    bo = {"ext_system_id": m["ext_system_id"], "bo_type": m["bo_type"], "bo_id": m["bo_id"]}
    return _workspace_page(request, state_of(request).search_workspaces(username(request), expanded=True, bo=bo))


def _page(request: web.Request, items: list[Any], default_limit: int = MAX_LIMIT) -> tuple[list[Any], dict[str, Any]]:
    """A page of ``items`` and the top-level ``paging`` of the Business Workspaces API."""
    q = request.query
    page, limit = page_limit(q, default_limit)
    if q.get("sort") in ("asc_name", "desc_name"):
        items = sorted(items, key=lambda i: (_node_of(i).name.casefold(), _node_of(i).id),
                       reverse=q["sort"] == "desc_name")
    chunk = items[(page - 1) * limit : page * limit]
    more_pages = page * limit < len(items)
    next_href = self_href(request.clone(rel_url=request.rel_url.update_query(page=page + 1))) if more_pages else None
    return chunk, views.paging(page, limit, len(items), next_href)


def _node_of(item: Any) -> Node:
    node: Node = item[0] if isinstance(item, tuple) else item
    return node


def _workspace_page(request: web.Request, nodes: list[Node]) -> web.Response:
    chunk, paging = _page(request, nodes)
    state = state_of(request)
    return json(request, [views.node_result(state, n) for n in chunk], paging=paging, wksp_info=views.WKSP_INFO)


async def get_workspace(request: web.Request) -> web.Response:
    state = state_of(request)
    node = state.workspace(path_int(request, "node_id"))
    if bool_param(request.query, "add_recently_accessed", default=True):
        state.touch_recent(username(request), node.id)
    return json(request, views.workspace_detail(state, node))


async def enclosing_workspace(request: web.Request) -> web.Response:
    """GET /v1/nodes/{id}/businessworkspace: the workspace a node lives in (v1 flat answer)."""
    state = state_of(request)
    node: Node | None = state.node(path_int(request, "node_id"))
    while node is not None and (node.wksp_type_id is None or node.id in state.templates):
        node = state.nodes.get(node.parent_id)
    if node is None:
        raise ApiError(400, "The node is not part of a business workspace.")
    return web.json_response({"id": node.id, "type": node.type, "workspace_type_id": node.wksp_type_id,
                              "isLinked": bool(node.business_objects)})


async def link_reference(request: web.Request) -> web.Response:
    state = state_of(request)
    workspaces.link(state, state.workspace(path_int(request, "node_id")), await read_params(request))
    return json(request, {})


async def unlink_reference(request: web.Request) -> web.Response:
    state = state_of(request)
    workspaces.unlink(state, state.workspace(path_int(request, "node_id")), await read_params(request))
    return json(request, {})


def _list_param(q: Mapping[str, Any], *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        for raw in q.getall(name, []) if hasattr(q, "getall") else []:
            values += [v.strip().strip("{}'\" ") for v in str(raw).split(",") if v.strip().strip("{}'\" ")]
    return values


async def related_items(request: web.Request) -> web.Response:
    state = state_of(request)
    workspace = state.workspace(path_int(request, "node_id"))
    q = request.query
    try:
        type_ids = [int(v) for v in _list_param(q, "where_workspace_type_id", "where_workspace_type_ids")]
    except ValueError:
        raise ApiError(400, "Invalid value for parameter 'where_workspace_type_ids'.") from None
    found = teams.related(state, workspace, rel_types=_list_param(q, "where_relationtype", "where_rel_types"),
                          type_ids=type_ids, name=q.get("where_name") or None)
    chunk, paging = _page(request, found)
    return json(request, [more.related_result(state, n, rel) for n, rel in chunk], paging=paging,
                wksp_info=views.WKSP_INFO)


async def add_related_item(request: web.Request) -> web.Response:
    state = state_of(request)
    teams.add_relation(state, state.workspace(path_int(request, "node_id")), await read_params(request))
    return json(request, {})


async def remove_related_item(request: web.Request) -> web.Response:
    state = state_of(request)
    params = await read_params(request)
    teams.remove_relation(state, state.workspace(path_int(request, "node_id")), path_int(request, "rel_bw_id"),
                          str(params.get("rel_type") or "child"))
    return json(request, {})


async def roles(request: web.Request) -> web.Response:
    state = state_of(request)
    workspace = state.workspace(path_int(request, "node_id"))
    return json(request, [more.role_result(r) for r in teams.roles_of(state, workspace)])


async def one_role(request: web.Request) -> web.Response:
    state = state_of(request)
    workspace = state.workspace(path_int(request, "node_id"))
    return json(request, more.role_result(teams.role(state, workspace, path_int(request, "role_id"))))


async def members(request: web.Request) -> web.Response:
    state = state_of(request)
    role = teams.role(state, state.workspace(path_int(request, "node_id")), path_int(request, "role_id"))
    return json(request, [more.member_result(state, m) for m in role.members])


async def add_member(request: web.Request) -> web.Response:
    state = state_of(request)
    role = teams.role(state, state.workspace(path_int(request, "node_id")), path_int(request, "role_id"))
    member_id = teams.add_member(state, role, await read_params(request))
    return json(request, more.member_result(state, member_id))


async def remove_member(request: web.Request) -> web.Response:
    state = state_of(request)
    role = teams.role(state, state.workspace(path_int(request, "node_id")), path_int(request, "role_id"))
    teams.remove_member(state, role, path_int(request, "member_id"))
    return json(request, {})


async def all_members(request: web.Request) -> web.Response:
    state = state_of(request)
    all_roles = teams.roles_of(state, state.workspace(path_int(request, "node_id")))
    page, limit = page_limit(request.query, MAX_LIMIT)
    chunk = all_roles[(page - 1) * limit : page * limit]
    return json(request, [more.team_result(state, r) for r in chunk],
                collection={"paging": more.collection_paging(page, limit, len(all_roles))})

