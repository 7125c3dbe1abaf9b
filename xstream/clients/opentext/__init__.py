"""Async OpenText Content Server client: business workspaces, nodes and folders, documents (streamed
upload and download), categories by name, workflows; ticket or OTDS bearer authentication.

Exports resolve lazily (PEP 562) so that importing the pure helpers (``forms``, ``category_meta``,
``models``) does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream.clients.opentext.category_meta import AttributeInfo, NodeCategory
    from xstream.clients.opentext.client import OpenTextClient
    from xstream.clients.opentext.documents import Download
    from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
    from xstream.clients.opentext.models import (
        AuditEvent,
        AuditPage,
        BulkUpsertItem,
        BusinessObjectRef,
        DocumentResult,
        DownloadResult,
        EnsureResult,
        Member,
        Node,
        NodePage,
        RelatedWorkspace,
        Template,
        Version,
        WorkflowInfo,
        WorkflowStatus,
        WorkflowStep,
        WorkspaceCreateRequest,
        WorkspaceDetail,
        WorkspaceRef,
        WorkspaceRole,
        WorkspaceType,
    )
    from xstream.clients.opentext.streams import file_sha256, file_source
    from xstream.clients.opentext.transport import ByteSource, UploadSourceError

_EXPORTS = {
    "OpenTextClient": "client",
    "Download": "documents",
    "AttributeInfo": "category_meta",
    "NodeCategory": "category_meta",
    "CategoryKeyMap": "forms",
    "parse_create_form": "forms",
    "file_sha256": "streams",
    "file_source": "streams",
    "ByteSource": "transport",
    "UploadSourceError": "transport",
    "AuditEvent": "models",
    "AuditPage": "models",
    "BulkUpsertItem": "models",
    "BusinessObjectRef": "models",
    "DocumentResult": "models",
    "DownloadResult": "models",
    "EnsureResult": "models",
    "Member": "models",
    "Node": "models",
    "NodePage": "models",
    "RelatedWorkspace": "models",
    "Template": "models",
    "Version": "models",
    "WorkflowInfo": "models",
    "WorkflowStatus": "models",
    "WorkflowStep": "models",
    "WorkspaceCreateRequest": "models",
    "WorkspaceDetail": "models",
    "WorkspaceRef": "models",
    "WorkspaceRole": "models",
    "WorkspaceType": "models",
}
__all__ = [
    "AttributeInfo",
    "AuditEvent",
    "AuditPage",
    "BulkUpsertItem",
    "BusinessObjectRef",
    "ByteSource",
    "CategoryKeyMap",
    "DocumentResult",
    "Download",
    "DownloadResult",
    "EnsureResult",
    "Member",
    "Node",
    "NodeCategory",
    "NodePage",
    "OpenTextClient",
    "RelatedWorkspace",
    "Template",
    "UploadSourceError",
    "Version",
    "WorkflowInfo",
    "WorkflowStatus",
    "WorkflowStep",
    "WorkspaceCreateRequest",
    "WorkspaceDetail",
    "WorkspaceRef",
    "WorkspaceRole",
    "WorkspaceType",
    "file_sha256",
    "file_source",
    "parse_create_form",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
