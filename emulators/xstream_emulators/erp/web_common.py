"""What the aiohttp modules of the ERP emulator share: app/request keys, JSON helpers, who made a call,
and the paged list envelope."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from xstream_emulators.erp.config import ErpEmulatorConfig
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.state import ErpState

STATE = web.AppKey("erp_state", ErpState)
CONFIG = web.AppKey("erp_config", ErpEmulatorConfig)
BODY = web.RequestKey("erp_body", object)
"""The decoded JSON body of a POST/PATCH, read once by the middleware (it fingerprints it)."""
ORIGIN_HEADER = "X-Xstream-Origin"
CAUSATION_HEADER = "X-Xstream-Causation"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PAGING = ("limit", "offset")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json",
                        headers=headers)


def error_response(exc: ApiError) -> web.Response:
    return json_response(exc.body(), exc.status, exc.headers)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "invalid_body", "A JSON request body is required.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_body", f"The request body is not JSON: {exc}") from None


def int_query(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer.") from None
    if number < 0:
        raise ApiError(400, "invalid_parameter", f"{name} must not be negative.")
    return number


def who(request: web.Request) -> tuple[str, str | None]:
    """(last_changed_by, last_causation) of a write: ``X-Xstream-Origin`` (default "api") and
    ``X-Xstream-Causation``."""
    return request.headers.get(ORIGIN_HEADER) or "api", request.headers.get(CAUSATION_HEADER)


def version_headers(record: dict[str, Any]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


def paging(request: web.Request) -> tuple[int, int]:
    """(offset, limit) of a list call; 400 invalid_parameter when not non-negative integers."""
    limit = min(int_query(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    return int_query(request, "offset", 0) or 0, limit


def filters(request: web.Request) -> dict[str, str]:
    """The query parameters of a list call that filter (all but the paging ones)."""
    return {k: v for k, v in request.query.items() if k not in PAGING}


def page(entity: str, found: list[dict[str, Any]], offset: int, limit: int) -> web.Response:
    """The list envelope ``{"entity", "total", "offset", "limit", "records"}`` of one page of ``found``."""
    return json_response({"entity": entity, "total": len(found), "offset": offset, "limit": limit,
                          "records": found[offset:offset + limit]})


def content_disposition(kind: str, file_name: str) -> str:
    """RFC 6266: an ASCII ``filename`` (others replaced) and the exact name as ``filename*``."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"
