"""What the aiohttp modules of the intake emulator share: the app key and the JSON answers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from xstream_emulators.intake.model import IntakeError
from xstream_emulators.intake.state import IntakeState

STATE = web.AppKey("intake_state", IntakeState)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json",
                        headers=headers)


def error_response(exc: IntakeError) -> web.Response:
    return json_response(exc.body(), exc.status, exc.headers)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise IntakeError(400, "invalid_body", "The request body is not JSON.") from None


def int_query(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise IntakeError(400, "invalid_parameter", f"{name} must be an integer.") from None
    if number < 0:
        raise IntakeError(400, "invalid_parameter", f"{name} must not be negative.")
    return number
