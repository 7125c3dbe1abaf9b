"""Request parameters as Content Server reads them: query string, flat form, ``body`` JSON, raw JSON.

Classic Content Server does not parse JSON request bodies; clients send forms (urlencoded or
multipart), nested payloads as one ``body`` field holding JSON. Newer releases also take raw
``application/json``. All of them are merged into one dict here, ``body`` taking precedence over
flat fields and those over the query string, so handlers never care how a client encoded a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from xstream.emulators.opentext.state import ApiError


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        decoded = _loads(await request.read(), "the request body")
        if not isinstance(decoded, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return params | decoded
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except ValueError as exc:
            raise ApiError(400, f"Could not read the form data: {exc}") from exc
        return params | merge_form({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def merge_form(fields: Mapping[str, str]) -> dict[str, Any]:
    """Flat fields plus the decoded ``body`` field; nested ``roles`` sent flat is decoded too."""
    merged: dict[str, Any] = {k: v for k, v in fields.items() if k != "body"}
    if isinstance(merged.get("roles"), str):
        merged["roles"] = _loads(merged["roles"].encode(), "parameter 'roles'")
    if "body" in fields:
        body = _loads(fields["body"].encode(), "parameter 'body'")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid value for parameter 'body': expected a JSON object.")
        merged |= body
    return merged


def _loads(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Invalid JSON in {what}: {exc}") from exc


def int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid value for parameter '{name}'.") from None


def bool_param(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ApiError(400, f"Invalid value for parameter '{name}'.")
