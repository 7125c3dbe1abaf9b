"""Typed values the OpenText client takes and returns; pure pydantic, no I/O.

A workspace to create (:class:`WorkspaceCreateRequest`) is defined with the request builders of the
pure core (:mod:`xstream.transform.opentext_requests`), so what the sink sends and what a dry-run
prints are one definition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.business import BusinessObject
from xstream.transform.opentext_requests import WorkspaceCreateRequest as WorkspaceCreateRequest


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


BusinessObjectRef = BusinessObject
"""The ERP/CRM record a workspace belongs to (OpenText links at most one workspace to it): the same
identity the commands carry."""


class Template(_Frozen):
    id: int
    name: str


class WorkspaceType(_Frozen):
    id: int
    name: str
    templates: list[Template] = Field(default_factory=list)
    location_id: int | None = None
    """The fixed creation folder, or None when the type creates in the "current location"."""


class WorkspaceRef(_Frozen):
    node_id: int
    name: str
    parent_id: int | None = None
    type_id: int | None = None


class EnsureResult(_Frozen):
    node_id: int
    created: bool
    """False when the workspace already existed (found before or after a failed create)."""


class Node(_Frozen):
    """The properties of a Content Server node that callers use; the rest stays in ``properties``."""

    id: int
    name: str
    parent_id: int | None = None
    type: int
    type_name: str | None = None
    description: str = ""
    create_date: str | None = None
    modify_date: str | None = None
    workspace_type_id: int | None = None
    workspace_template_id: int | None = None
    container: bool = False
    size: int | None = None
    """Documents: bytes of the latest version; containers: number of children."""
    mime_type: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> Node:
        return cls(
            id=props["id"],
            name=props["name"],
            parent_id=props.get("parent_id"),
            type=props["type"],
            type_name=props.get("type_name"),
            description=props.get("description") or "",
            create_date=props.get("create_date"),
            modify_date=props.get("modify_date"),
            workspace_type_id=props.get("wnf_wksp_type_id"),
            workspace_template_id=props.get("wnf_wksp_template_id"),
            container=bool(props.get("container")),
            size=props.get("size") if isinstance(props.get("size"), int) else None,
            mime_type=props.get("mime_type"),
            properties=props,
        )


DOCUMENT = 144
FOLDER = 0
WORKSPACE = 848


class NodePage(_Frozen):
    """One page of a browse (GET /api/v2/nodes/{id}/nodes); paging read from ``collection.paging``."""

    items: list[Node]
    page: int = 1
    limit: int = 0
    total_count: int | None = None
    page_total: int | None = None

    @property
    def has_more(self) -> bool:
        if self.page_total is not None:
            return self.page < self.page_total
        return self.limit > 0 and len(self.items) >= self.limit


class Version(_Frozen):
    """One version of a document as ``versions_VersionInfo`` has it. No checksum: Content Server
    exposes none, so what was stored is known by the sha256 computed while uploading
    (:class:`UploadResult`) or by downloading."""

    version_number: int
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    create_date: str | None = None
    file_create_date: str | None = None
    description: str = ""
    version_id: int | None = None
    """The version's own object id (``version_id``; the answer's ``id`` is the document's node id)."""
    major: int | None = None
    """``version_major_number`` (0 under standard versioning)."""
    minor: int | None = None
    locked: bool = False
    """Locked against modify and delete (:meth:`~.versions.VersionsApi.lock_version`)."""
    locked_date: str | None = None
    locked_user_id: int | None = None


class DocumentResult(_Frozen):
    node_id: int
    version_number: int
    action: Literal["created", "version_added", "unchanged"]


class UploadResult(_Frozen):
    """What an upload stored: the node, the version it became, and the size and sha256 of the bytes
    sent (computed while they streamed; Content Server has no checksum to compare with)."""

    node_id: int
    version_number: int
    size: int
    sha256: str
    large_file: bool = False
    """Sent through Large File Upload (parts) rather than in one request."""


class LargeFileSettings(_Frozen):
    """``GET /api/v2/multipart/settings``: whether Large File Upload is on, and for which file sizes."""

    is_enabled: bool = False
    min_size: int = 0
    max_size: int = 0

    def takes(self, size: int | None) -> bool:
        """Whether a file of ``size`` bytes goes in parts (an unknown size never does: a session needs it)."""
        return self.is_enabled and size is not None and self.min_size <= size <= self.max_size


class DownloadResult(_Frozen):
    path: Path
    filename: str | None
    """The name the server gave in Content-Disposition (None when it sent none)."""
    mime_type: str | None
    size: int
    sha256: str


class AuditEvent(_Frozen):
    id: int
    """The node the event is about."""
    event_type: int
    audit_name: str = ""
    audit_date: str | None = None
    user_id: int | None = None
    target_user_id: int | None = None


class AuditPage(_Frozen):
    events: list[AuditEvent]
    event_types: dict[int, str] = Field(default_factory=dict)
    page: int = 1
    limit: int = 0
    total_count: int | None = None
    page_total: int | None = None


class WorkspaceDetail(_Frozen):
    """GET /api/v2/businessworkspaces/{id}: the node, its business objects and category values."""

    node: Node
    business_properties: dict[str, Any] = Field(default_factory=dict)
    """The first business object (``business_object_id``, ``business_object_type``, ...)."""
    references: list[BusinessObjectRef] = Field(default_factory=list)
    categories: dict[str, Any] = Field(default_factory=dict)
    """All category values, flat ``{"{cat}_{attr}": value}``."""


class BulkUpsertItem(_Frozen):
    """One entry of PUT /api/v2/businessworkspaces: the workspace id, or why it failed."""

    id: int | None = None
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.id is not None and not self.error_message


class RelatedWorkspace(_Frozen):
    node_id: int
    name: str
    rel_type: str | None = None
    """``child``, ``parent`` or a BO-driven ``BO_Child``/``BO_Parent``."""
    type_id: int | None = None


class WorkspaceRole(_Frozen):
    id: int
    name: str
    description: str = ""
    leader: bool = False


class Member(_Frozen):
    id: int
    name: str
    display_name: str | None = None
    type: int | None = None


class WorkflowInfo(_Frozen):
    """A workflow map that can be started on a document (GET /api/v2/docworkflows)."""

    id: int
    name: str
    workflow_type: int | None = None


class WorkflowStep(_Frozen):
    task_id: int | None = None
    name: str = ""
    status: str | None = None
    start_date: str | None = None
    due_date: str | None = None
    assignees: list[str] = Field(default_factory=list)
    """Login names of the assignees."""


class WorkflowStatus(_Frozen):
    """GET /api/v2/workflows/status/processes/{id}: ``ontime``, ``workflowlate``, ``stopped`` or ``completed``."""

    process_id: int
    name: str | None = None
    status: str | None = None
    attachment_folder_id: int | None = None
    """Where the process keeps its attachments (aliases of the attached documents)."""
    initiated: str | None = None
    due_date: str | None = None
    initiator: str | None = None
    current: list[WorkflowStep] = Field(default_factory=list)
    completed: list[WorkflowStep] = Field(default_factory=list)
    next: list[WorkflowStep] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "stopped")
