"""The one place where HTTP outcomes of Content Server become ``xstream.errors``.

Content Server's habits decide the mapping (reference/opentext-api.md section 8): errors are
``{"error": ...}`` (sometimes with ``errorDetail``); overload shows as HTML 500 pages, 502-504 or
a 200 whose body is not JSON, all retriable; a duplicate name is a 500 "already exists"; an
unknown node is a 400 (or 500) "Could not get a node" or "the item ... could not be accessed". 401 is not mapped here: the client
re-logs in once and repeats the call, and only a second 401 becomes AuthenticationFailed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from xstream.errors import (
    AlreadyExists,
    EditConflict,
    SinkBackpressure,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)
from xstream.retry import parse_retry_after

TARGET = "opentext"


class Unauthorized(Exception):
    """A 401 answer; the client decides whether to log in again."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@asynccontextmanager
async def transport_errors(operation: str) -> AsyncIterator[None]:
    """Timeouts and connection failures are retriable: the server may be restarting."""
    try:
        yield
    except TimeoutError as exc:
        raise SinkUnavailable(f"{operation}: timed out", target=TARGET) from exc
    except aiohttp.ClientError as exc:
        raise SinkUnavailable(f"{operation}: {type(exc).__name__}: {exc}", target=TARGET) from exc


def parse_response(operation: str, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """The decoded JSON of a successful answer; any other outcome raises the matching SinkError."""
    decoded, error = _decode(body)
    if 200 <= status < 300:
        if decoded is _NOT_JSON:
            raise SinkUnavailable(f"{operation}: HTTP {status} with a body that is not JSON", status=status,
                                  target=TARGET)
        return decoded
    message = f"{operation}: HTTP {status}: {error}"
    if status == 401:
        raise Unauthorized(message)
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if retry_after is not None:
            raise SinkBackpressure(message, retry_after=retry_after, status=status, target=TARGET)
    if status in (400, 500) and any(text in error.lower() for text in _NOT_FOUND):
        raise TargetNotFound(message, status=status, target=TARGET)
    if status == 404:
        raise TargetNotFound(message, status=status, target=TARGET)
    if status == 409:
        raise EditConflict(message, status=status, target=TARGET)
    if status == 500 and decoded is not _NOT_JSON and "already exists" in error.lower():
        raise AlreadyExists(message, status=status, target=TARGET)
    if status >= 500 or status == 429 or status == 408:
        raise SinkUnavailable(message, status=status, target=TARGET)
    raise SinkRejected(message, status=status, target=TARGET)


_NOT_JSON: Any = object()
_NOT_FOUND = ("could not get a node", "could not be accessed")
"""Messages of unknown nodes: "Could not get a node for {id}" and "Sorry, the item you requested
could not be accessed" (not found and no permission deliberately conflated by Content Server)."""


def _decode(body: bytes) -> tuple[Any, str]:
    """The JSON (or _NOT_JSON) and a short error text for messages; HTML pages are summarised."""
    try:
        decoded = orjson.loads(body) if body else _NOT_JSON
    except orjson.JSONDecodeError:
        decoded = _NOT_JSON
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        detail = decoded.get("errorDetail")
        return decoded, decoded["error"] + (f" ({detail})" if detail else "")
    if decoded is _NOT_JSON:
        text = body[:120].decode("utf-8", "replace").strip()
        kind = "HTML page" if text.lower().startswith(("<html", "<!doctype")) else "non-JSON body"
        return decoded, f"{kind}: {text[:80]!r}" if text else "empty body"
    return decoded, orjson.dumps(decoded)[:200].decode("utf-8", "replace")



