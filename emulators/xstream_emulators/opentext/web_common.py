"""What every route module of the emulator shares: app/request keys and small request helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from xstream_emulators.opentext.config import OpenTextEmulatorConfig
from xstream_emulators.opentext.encoding import int_param
from xstream_emulators.opentext.hook_sender import HookDispatcher
from xstream_emulators.opentext.model import ApiError
from xstream_emulators.opentext.state import OpenTextState
from xstream_emulators.opentext.tickets import Session

STATE = web.AppKey("opentext_state", OpenTextState)
CONFIG = web.AppKey("opentext_config", OpenTextEmulatorConfig)
HOOKS = web.AppKey("opentext_hooks", HookDispatcher)
SESSION = web.RequestKey("opentext_session", Session)
MAX_LIMIT = 500


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def state_of(request: web.Request) -> OpenTextState:
    return request.app[STATE]


def username(request: web.Request) -> str:
    return request[SESSION].username


def user_id(request: web.Request) -> int:
    return state_of(request).user_id(username(request))


def path_int(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise ApiError(400, f"Invalid datatype specified for argument '{name}'.")
    return int(value)


def self_href(request: web.Request) -> str:
    return request.rel_url.path_qs.removeprefix(request.app[CONFIG].base_path)


def links(request: web.Request, method: str | None = None) -> dict[str, Any]:
    href = self_href(request)
    return {"data": {"self": {"body": "", "content_type": "", "href": href, "method": method or request.method,
                              "name": ""}}}


def page_limit(params: Mapping[str, Any], default_limit: int, max_limit: int = MAX_LIMIT) -> tuple[int, int]:
    page = int_param(params, "page", 1)
    limit = int_param(params, "limit", default_limit)
    if page is None or limit is None or page < 1 or limit < 1:
        raise ApiError(400, "The parameters page and limit must be positive integers.")
    return page, min(limit, max_limit)


def json(request: web.Request, results: Any, **extra: Any) -> web.Response:
    """The v2 envelope: ``{"links": {"data": {"self": …}}, "results": …}`` plus any extra keys."""
    return web.json_response({"links": links(request), **extra, "results": results})
