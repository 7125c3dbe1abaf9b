"""What people do in OpenText, done through its REST API: the other side of flows F3 and F6.

The demo and the integration tests act as OpenText users: they create a supplier's workspace, file a
contract in it and move the contract's status on (legal review done, signed), exactly as a user or
a workflow step would through the Content Server REST API.
"""

from __future__ import annotations

import hashlib
from typing import Any

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest, bytes_body
from xstream.clients.opentext.category_meta import find_category, values_by_name

DOCUMENT_CATEGORY = "Document"


async def workspace_for(client: OpenTextClient, type_name: str, bo: BusinessObjectRef, name: str) -> int:
    """The workspace of a business object (created from the type's first template when absent)."""
    ws_type = next(t for t in await client.workspace_types() if t.name == type_name)
    ensured = await client.ensure_workspace(WorkspaceCreateRequest(
        template_id=ws_type.templates[0].id, wksp_type_id=ws_type.id, name=name, business_object=bo))
    return ensured.node_id


async def file_document(client: OpenTextClient, parent_id: int, name: str, *, document_type: str, status: str,
                        content: bytes | None = None) -> int:
    """Upload a document with its Document category (type and status) set; returns its node id."""
    data = content if content is not None else f"%PDF-1.7 {name}".encode()
    result = await client.upsert_document(
        parent_id, name, bytes_body(data, name, "application/pdf"), size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        categories={DOCUMENT_CATEGORY: {"Document Type": document_type, "Status": status}})
    return result.node_id


async def set_status(client: OpenTextClient, document_id: int, status: str) -> None:
    """What a reviewer (or a workflow step) does: set the document's Status attribute."""
    await client.update_categories(document_id, {DOCUMENT_CATEGORY: {"Status": status}})


async def status_of(client: OpenTextClient, document_id: int) -> Any:
    """The document's Status attribute as OpenText holds it now (None without the category)."""
    category = find_category(await client.node_categories(document_id), DOCUMENT_CATEGORY)
    return values_by_name(category).get("Status") if category is not None else None
