"""What the aiohttp modules of the ERP emulator share: app/request keys and JSON helpers."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from xstream.emulators.erp.config import ErpEmulatorConfig
from xstream.emulators.erp.model import ApiError
from xstream.emulators.erp.state import ErpState

STATE = web.AppKey("erp_state", ErpState)
CONFIG = web.AppKey("erp_config", ErpEmulatorConfig)
STOPPING = web.AppKey("erp_stopping", asyncio.Event)
BODY = web.RequestKey("erp_body", object)
"""The decoded JSON body of a POST/PATCH, read once by the middleware (it fingerprints it)."""


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
