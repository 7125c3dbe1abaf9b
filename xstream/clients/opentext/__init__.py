"""Async OpenText Content Server client: business workspaces, nodes and folders, documents (streamed
upload from a body, Large File Upload for large ones, and download as a body), versions (lock,
unlock, promote), copy links, categories by name, workflows; ticket or OTDS bearer authentication.

Exports resolve lazily (PEP 562) so that importing the pure helpers (``forms``, ``category_meta``,
``models``) does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream.clients.opentext.category_meta import AttributeInfo, NodeCategory
    from xstream.clients.opentext.client import OpenTextClient
    from xstream.clients.opentext.documents import DocumentBody, Download
    from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
    from xstream.clients.opentext.models import (
        AuditEvent,
        AuditPage,
        BulkUpsertItem,
        BusinessObjectRef,
        DocumentResult,
        DownloadResult,
        EnsureResult,
        LargeFileSettings,
        Member,
        Node,
        NodePage,
        RelatedWorkspace,
        Template,
        UploadResult,
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
    from xstream.clients.opentext.streams import (
        StreamBody,
        bytes_body,
        file_body,
        file_sha256,
        file_source,
        source_body,
    )
    from xstream.clients.opentext.transport import ByteSource, UploadSourceError

_EXPORTS = {
    "OpenTextClient": "client",
    "Download": "documents",
    "DocumentBody": "documents",
    "AttributeInfo": "category_meta",
    "NodeCategory": "category_meta",
    "CategoryKeyMap": "forms",
    "parse_create_form": "forms",
    "file_sha256": "streams",
    "file_source": "streams",
    "StreamBody": "streams",
    "bytes_body": "streams",
    "file_body": "streams",
    "source_body": "streams",
    "ByteSource": "transport",
    "UploadSourceError": "transport",
    "AuditEvent": "models",
    "AuditPage": "models",
    "BulkUpsertItem": "models",
    "BusinessObjectRef": "models",
    "DocumentResult": "models",
    "DownloadResult": "models",
    "EnsureResult": "models",
    "LargeFileSettings": "models",
    "Member": "models",
    "Node": "models",
    "NodePage": "models",
    "RelatedWorkspace": "models",
    "Template": "models",
    "UploadResult": "models",
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
    "DocumentBody",
    "DocumentResult",
    "Download",
    "DownloadResult",
    "EnsureResult",
    "LargeFileSettings",
    "Member",
    "Node",
    "NodeCategory",
    "NodePage",
    "OpenTextClient",
    "RelatedWorkspace",
    "StreamBody",
    "Template",
    "UploadResult",
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
    "bytes_body",
    "file_body",
    "file_sha256",
    "file_source",
    "parse_create_form",
    "source_body",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
