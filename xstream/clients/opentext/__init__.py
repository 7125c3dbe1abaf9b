"""Async OpenText Content Server client (business workspaces, nodes, categories).

Exports resolve lazily (PEP 562) so that importing the pure helpers, ``forms`` and ``models``,
does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream.clients.opentext.client import OpenTextClient
    from xstream.clients.opentext.forms import (
        CategoryInfo,
        CategoryKeyMap,
        parse_create_form,
        resolve_categories,
    )
    from xstream.clients.opentext.models import (
        BusinessObjectRef,
        EnsureResult,
        Node,
        Template,
        WorkspaceCreateRequest,
        WorkspaceRef,
        WorkspaceType,
    )

_EXPORTS = {
    "OpenTextClient": "client",
    "CategoryInfo": "forms",
    "CategoryKeyMap": "forms",
    "parse_create_form": "forms",
    "resolve_categories": "forms",
    "BusinessObjectRef": "models",
    "EnsureResult": "models",
    "Node": "models",
    "Template": "models",
    "WorkspaceCreateRequest": "models",
    "WorkspaceRef": "models",
    "WorkspaceType": "models",
}
__all__ = [
    "BusinessObjectRef",
    "CategoryInfo",
    "CategoryKeyMap",
    "EnsureResult",
    "Node",
    "OpenTextClient",
    "Template",
    "WorkspaceCreateRequest",
    "WorkspaceRef",
    "WorkspaceType",
    "parse_create_form",
    "resolve_categories",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
