"""aiohttp routes of the emulated Content Server REST API under ``{base_path}/api``.

One middleware does what every real call goes through, in order: count the call by operation,
inject configured faults (before any effect), check the ticket, run the handler, turn
:class:`ApiError` into ``{"error": ...}`` and return a refreshed ``OTCSTicket`` header. Handlers only
read parameters, call the pure state and render the pure views.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream.emulators.opentext import views
from xstream.emulators.opentext.admin import add_admin_routes
from xstream.emulators.opentext.config import OpenTextEmulatorConfig
from xstream.emulators.opentext.encoding import bool_param, int_param, read_params
from xstream.emulators.opentext.state import ApiError, Node, OpenTextState
from xstream.emulators.opentext.tickets import Session

log = logging.getLogger(__name__)

STATE = web.AppKey("opentext_state", OpenTextState)
CONFIG = web.AppKey("opentext_config", OpenTextEmulatorConfig)
SESSION = web.RequestKey("opentext_session", Session)
PUBLIC_OPERATIONS = frozenset({"ping", "serverinfo", "auth.login"})
MAX_LIMIT = 500
HTML_ERROR = ("<html><head><title>Content Server Error</title></head><body><h1>Error Processing Request</h1>"
              "<p>Content Server Client Error. Please try again.</p></body></html>")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_opentext_app(config: OpenTextEmulatorConfig, state: OpenTextState | None = None) -> web.Application:
    state = state or OpenTextState(config.users, config.ticket_lifetime_s)
    app = web.Application(middlewares=[_api_middleware(state, config.base_path)])
    app[STATE] = state
    app[CONFIG] = config
    api = f"{config.base_path}/api"
    r = app.router
    r.add_get(f"{api}/v1/ping", ping, name="ping")
    r.add_get(f"{api}/v1/serverinfo", serverinfo, name="serverinfo")
    r.add_post(f"{api}/v1/auth", login, name="auth.login")
    r.add_get(f"{api}/v1/auth", whoami, name="auth.whoami", allow_head=False)
    r.add_route("HEAD", f"{api}/v1/auth", check_auth, name="auth.check")
    r.add_delete(f"{api}/v1/auth", logout, name="auth.logout")
    r.add_get(f"{api}/v2/businessworkspacetypes", workspace_types, name="workspacetypes.list")
    r.add_get(f"{api}/v2/forms/businessworkspaces/create", create_form, name="forms.workspace_create")
    r.add_post(f"{api}/v2/businessworkspaces", create_workspace, name="workspaces.create")
    r.add_get(f"{api}/v2/businessworkspaces", search_workspaces, name="workspaces.search")
    r.add_get(f"{api}/v2/businessworkspaces/{{node_id}}", get_workspace, name="workspaces.get")
    r.add_get(
        f"{api}/v2/externalsystems/{{ext_system_id}}/botypes/{{bo_type}}/boids/{{bo_id}}",
        workspaces_by_bo, name="workspaces.by_bo",
    )
    r.add_get(f"{api}/v2/nodes/{{node_id}}", get_node, name="nodes.get")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/categories", get_categories, name="nodes.categories")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/categories/{{cat_id}}", get_category, name="nodes.category")
    add_admin_routes(app, state)
    return app


def _api_middleware(state: OpenTextState, base_path: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(f"{base_path}/api/"):
            return await handler(request)
        unmatched = request.match_info.http_exception
        operation = request.match_info.route.name or "unknown"
        state.calls[operation] += 1
        if isinstance(unmatched, web.HTTPMethodNotAllowed):
            raise unmatched
        fault = await _inject_fault(state)
        if fault is not None:
            return fault
        session: Session | None = None
        try:
            if unmatched is not None:
                raise ApiError(400, "The REST API URL could not be found in the mappings registry.")
            if operation not in PUBLIC_OPERATIONS:
                bearer = request.headers.get("Authorization", "")
                token = bearer[7:].strip() if bearer[:7].lower() == "bearer " else None
                session = request[SESSION] = state.session_for(request.headers.get("OTCSTicket"), token)
            response = await handler(request)
        except ApiError as exc:
            response = error(exc.status, exc.message)
        except web.HTTPException:
            raise
        except Exception:  # a bug in the emulator must not look like a crashed server
            log.exception("opentext emulator: %s failed", operation)
            response = error(500, "Internal server error in the emulator.")
        if session is not None and response.status != 401 and state.tickets.is_open(session):
            response.headers["OTCSTicket"] = state.tickets.issue(session)
        return response

    return middleware


async def _inject_fault(state: OpenTextState) -> web.Response | None:
    faults = state.faults
    delay = faults.delay_s(state.rng)
    if delay:
        await asyncio.sleep(delay)
    if not faults.should_fail(state.rng):
        return None
    state.injected_faults += 1
    if faults.error_kind == "500":
        return error(500, "Internal server error (injected fault).")
    if faults.error_kind == "html500":
        return web.Response(status=500, text=HTML_ERROR, content_type="text/html")
    headers = {} if faults.retry_after_s is None else {"Retry-After": str(math.ceil(faults.retry_after_s))}
    return web.Response(status=503, text="<html><body>Service Unavailable</body></html>",
                        content_type="text/html", headers=headers)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _state(request: web.Request) -> OpenTextState:
    return request.app[STATE]


def _username(request: web.Request) -> str:
    return request[SESSION].username


def _path_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise ApiError(400, f"Invalid value for parameter '{name}'.")
    return int(value)


def _self_href(request: web.Request) -> str:
    return request.rel_url.path_qs.removeprefix(request.app[CONFIG].base_path)


# --- public and auth --------------------------------------------------------------------------


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"rest_api": [{"build": 2, "href": "api/v1", "version": 1},
                                           {"build": 2, "href": "api/v2", "version": 2}]})


async def serverinfo(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    lifetime_ms = int(_state(request).ticket_lifetime_s * 1000)
    return web.json_response({
        "mobile": {"offline_use": False, "client_timeout": 60},
        "server": {"url": f"{request.url.origin()}{config.base_path}", "version": "24.4.0 (emulator)",
                   "character_encoding": 1, "current_locale_suffix": "_en_US", "domain_access_enabled": False,
                   "time_zone_offset_enabled": False, "language_code": "USA",
                   "languages": [{"language_code": "en_US", "display_name": "English", "default": True}]},
        "sessions": {"enabled": True, "expire_after_last_request": True, "expire_after_last_login": False,
                     "session_timeout": lifetime_ms, "session_inactivity": max(0, lifetime_ms - 300_000),
                     "session_reaction_time": 300_000, "logout_url": f"{config.base_path}?func=ll.DoLogout"},
        "viewer": {"content_suite": {}},
    })


async def login(request: web.Request) -> web.Response:
    params = await read_params(request)
    for field in ("username", "password"):
        if not params.get(field):
            raise ApiError(500, f"Argument {field} is required")
    ticket = _state(request).login(str(params["username"]), str(params["password"]))
    return web.json_response({"ticket": ticket})


async def whoami(request: web.Request) -> web.Response:
    name = _username(request)
    return web.json_response({"data": {"id": _state(request).user_id(name), "name": name, "type": 0,
                                       "type_name": "User", "display_name": name, "first_name": "",
                                       "last_name": "", "group_id": 1001, "deleted": False}})


async def check_auth(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def logout(request: web.Request) -> web.Response:
    _state(request).tickets.close(request[SESSION])
    return web.json_response({})


# --- business workspaces ----------------------------------------------------------------------


async def workspace_types(request: web.Request) -> web.Response:
    q = request.query
    if bool(q.get("ext_system_id")) != bool(q.get("bo_type")):
        raise ApiError(400, "The parameters ext_system_id and bo_type must be provided together.")
    # With both given the real server filters by the business object type's workspace type; the
    # emulator registers no BO types, so every type qualifies.
    expand = bool_param(q, "expand_templates")
    state = _state(request)
    results = [views.workspace_type_result(state, t, expand_templates=expand) for t in sorted(state.types)]
    if q.get("sort") == "desc_name":
        results.reverse()
    return web.json_response({"links": views.links(_self_href(request)), "results": results})


async def create_form(request: web.Request) -> web.Response:
    state = _state(request)
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
    node = _state(request).create_workspace(_username(request), await read_params(request))
    return web.json_response({"links": views.links(_self_href(request), "POST"),
                              "results": {"id": node.id, "direct_open": True, "sub_folder_id": 0}})


async def search_workspaces(request: web.Request) -> web.Response:
    q = request.query
    nodes = _state(request).search_workspaces(
        _username(request),
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
    return _workspace_page(request, _state(request).search_workspaces(_username(request), expanded=True, bo=bo))


def _workspace_page(request: web.Request, nodes: list[Node]) -> web.Response:
    q = request.query
    page = int_param(q, "page", 1)
    limit = int_param(q, "limit", MAX_LIMIT)
    if page is None or limit is None or page < 1 or limit < 1:
        raise ApiError(400, "The parameters page and limit must be positive integers.")
    limit = min(limit, MAX_LIMIT)
    if q.get("sort") in ("asc_name", "desc_name"):
        nodes = sorted(nodes, key=lambda n: (n.name.casefold(), n.id), reverse=q["sort"] == "desc_name")
    chunk = nodes[(page - 1) * limit : page * limit]
    more = page * limit < len(nodes)
    next_href = _self_href(request.clone(rel_url=request.rel_url.update_query(page=page + 1))) if more else None
    state = _state(request)
    return web.json_response({
        "links": views.links(_self_href(request)),
        "paging": views.paging(page, limit, len(nodes), next_href),
        "results": [views.node_result(state, n) for n in chunk],
        "wksp_info": views.WKSP_INFO,
    })


async def get_workspace(request: web.Request) -> web.Response:
    state = _state(request)
    node = state.workspace(_path_int(request, "node_id"))
    if bool_param(request.query, "add_recently_accessed", default=True):
        state.touch_recent(_username(request), node.id)
    return web.json_response({"links": views.links(_self_href(request)),
                              "results": views.workspace_detail(state, node)})


# --- nodes and categories ---------------------------------------------------------------------


async def get_node(request: web.Request) -> web.Response:
    state = _state(request)
    node = state.node(_path_int(request, "node_id"))
    result = views.node_result(state, node)
    if "categories" in request.query.getall("fields", []):
        result["data"]["categories"] = [dict(values) for values in node.categories.values()]
    return web.json_response({"links": views.links(_self_href(request)), "results": result})


def _node_for_categories(request: web.Request) -> Node:
    node_id = _path_int(request, "node_id")
    node = _state(request).nodes.get(node_id)
    if node is None:  # the categories calls answer an unknown node with 500, unlike GET node
        raise ApiError(500, f"Could not get a node for {node_id}")
    return node


async def get_categories(request: web.Request) -> web.Response:
    state = _state(request)
    node = _node_for_categories(request)
    results = [views.category_result(state.categories[c], values) for c, values in node.categories.items()]
    return web.json_response({"links": views.links(_self_href(request)), "results": results})


async def get_category(request: web.Request) -> web.Response:
    state = _state(request)
    node = _node_for_categories(request)
    cat_id = _path_int(request, "cat_id")
    if cat_id not in node.categories:
        raise ApiError(400, f"Category ID '{cat_id}' is not a category on node '{node.id}'.")
    result = views.category_result(state.categories[cat_id], node.categories[cat_id])
    return web.json_response({"links": views.links(_self_href(request)), "results": result})
