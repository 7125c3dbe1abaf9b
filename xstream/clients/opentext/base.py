"""What every part of the client shares: the transport and reading answers of the documented shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from xstream.clients.opentext.transport import TARGET, Body, Params, Transport
from xstream.errors import SinkUnavailable

T = TypeVar("T")


class ClientBase:
    """Base of the client's parts (nodes, documents, categories, workspaces, workflows)."""

    _transport: Transport

    async def _call(self, operation: str, method: str, path: str, *, params: Params | None = None,
                    data: Body = None) -> Any:
        return await self._transport.call(operation, method, path, params=params, data=data)


def shape(operation: str, read: Callable[[], T]) -> T:
    """Read an answer; a 2xx whose JSON lacks what the API documents is treated as a bad gateway."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ValidationError) as exc:
        raise SinkUnavailable(f"{operation}: unexpected answer shape ({type(exc).__name__}: {exc})",
                              target=TARGET) from exc


def paging(payload: Mapping[str, Any]) -> dict[str, int | None]:
    """Paging of a collection: ``collection.paging`` (browse, audit, search) or top-level ``paging``."""
    collection = payload.get("collection")
    raw = collection.get("paging") if isinstance(collection, Mapping) else None
    if not isinstance(raw, Mapping):
        raw = payload.get("paging")
    raw = raw if isinstance(raw, Mapping) else {}

    def number(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return {"page": number("page"), "limit": number("limit"), "total_count": number("total_count"),
            "page_total": number("page_total")}


def results_list(payload: Mapping[str, Any]) -> list[Any]:
    """``results`` as a list (v2 collections); a single object becomes a one-item list."""
    results = payload["results"]
    if isinstance(results, list):
        return results
    if isinstance(results, Mapping):
        return [results]
    raise TypeError(f"results is {type(results).__name__}")
