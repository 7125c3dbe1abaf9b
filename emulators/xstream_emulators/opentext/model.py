"""Data model of the emulated Content Server: plain dataclasses and constants. Pure (no aiohttp).

Node subtypes and audit event ids follow reference/opentext-api.md (5.1, 7.3). Audit ids other
than 9 and 10 are not confirmed by any source; they are kept in :data:`AUDIT_EVENTS` so a client
can match on ``audit_name`` instead. Subtype 154 (a workflow's attachments folder) is not confirmed
either (see ``attachments``): clients find that folder by ``attachment_folder_id``, not by subtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FOLDER = 0
SHORTCUT = 1
WORKFLOW_MAP = 128
CATEGORY = 131
CATEGORY_FOLDER = 132
CATEGORIES_VOLUME = 133
ENTERPRISE_VOLUME = 141
DOCUMENT = 144
WORKFLOW_ATTACHMENTS = 154
WORKSPACE = 848
MAX_NAME_LENGTH = 248
TYPE_NAMES = {FOLDER: "Folder", SHORTCUT: "Shortcut", WORKFLOW_MAP: "Workflow Map", CATEGORY: "Category",
              CATEGORY_FOLDER: "Category Folder", CATEGORIES_VOLUME: "Categories Volume",
              ENTERPRISE_VOLUME: "Enterprise Workspace", DOCUMENT: "Document",
              WORKFLOW_ATTACHMENTS: "Workflow Attachments", WORKSPACE: "Business Workspace"}
CONTAINER_TYPES = frozenset({FOLDER, CATEGORY_FOLDER, CATEGORIES_VOLUME, ENTERPRISE_VOLUME, WORKFLOW_ATTACHMENTS,
                             WORKSPACE})
VOLUME_TYPES = frozenset({CATEGORIES_VOLUME, ENTERPRISE_VOLUME})

AUDIT_CREATE = 1
AUDIT_DELETE = 2
AUDIT_ADD_VERSION = 4
AUDIT_MOVE = 6
AUDIT_RENAME = 7
AUDIT_ATTRIBUTE_CHANGED = 10
AUDIT_WORKFLOW_INITIATED = 102
AUDIT_WORKFLOW_COMPLETED = 103
AUDIT_WORKFLOW_STOPPED = 104
AUDIT_EVENTS = {
    AUDIT_CREATE: "Create",
    AUDIT_DELETE: "Delete",
    AUDIT_ADD_VERSION: "Add Version",
    AUDIT_MOVE: "Move",
    AUDIT_RENAME: "Rename",
    AUDIT_ATTRIBUTE_CHANGED: "Attribute Value Changed",
    AUDIT_WORKFLOW_INITIATED: "Workflow Initiated",
    AUDIT_WORKFLOW_COMPLETED: "Workflow Completed",
    AUDIT_WORKFLOW_STOPPED: "Workflow Stopped",
}
NOT_ACCESSIBLE = ("Sorry, the item you requested could not be accessed. Either it does not exist or you do not "
                  "have permission to access it. If you were sent a link to this item, please contact the sender "
                  "for assistance.")


class ApiError(Exception):
    """An answer the real server gives as ``{"error": message}`` with this HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BusinessObject:
    ext_system_id: str
    bo_type: str
    bo_id: str


@dataclass(frozen=True)
class Attribute:
    key: str
    title: str
    type: str
    set_attributes: tuple[Attribute, ...] = ()
    """Non-empty for a set attribute: its row attributes (keys ``{cat}_{set}_x_{attr}``)."""
    max_rows: int = 0

    @property
    def is_set(self) -> bool:
        return bool(self.set_attributes)

    @property
    def attr_id(self) -> str:
        return self.key.rsplit("_", 1)[1]


@dataclass
class CategoryDef:
    id: int
    name: str
    attributes: list[Attribute]

    def keys(self) -> list[str]:
        """Top-level attribute keys (a set counts once), as in ``metadata_map``."""
        return [a.key for a in self.attributes]

    def attribute(self, key: str) -> Attribute | None:
        return next((a for a in self.attributes if a.key == key), None)


@dataclass
class WorkspaceType:
    id: int
    name: str
    location_id: int | None
    template_ids: list[int] = field(default_factory=list)
    role_names: tuple[str, ...] = ()


@dataclass
class Template:
    id: int
    name: str
    type_id: int
    category_ids: list[int]


@dataclass
class Version:
    number: int
    major: int
    minor: int
    file_name: str
    mime_type: str
    size: int
    sha256: str
    """Content hash: admin/state only, never in an API answer (the real API has no hash)."""
    create_date: str
    owner_id: int
    description: str = ""
    id: int = 0
    """The version's own id (``version_id``), from the node id counter."""
    locked: bool = False
    """Locked against modify and delete (``POST .../versions/{n}/lock``); the node itself stays editable."""
    locked_date: str | None = None
    locked_user_id: int | None = None


@dataclass
class Node:
    id: int
    name: str
    parent_id: int
    type: int
    create_date: str
    create_user_id: int = 1000
    description: str = ""
    wksp_type_id: int | None = None
    template_id: int | None = None
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    business_objects: list[BusinessObject] = field(default_factory=list)
    modify_date: str = ""
    modify_user_id: int = 0
    versions: list[Version] = field(default_factory=list)
    reserved_user_id: int = 0
    reserved_date: str | None = None
    metadata_token: str = ""
    category_tokens: dict[int, str] = field(default_factory=dict)
    external: dict[str, Any] = field(default_factory=dict)
    """external_create_date / external_modify_date / external_source / external_identity(_type)."""
    original_id: int = 0
    """For a shortcut (subtype 1): the node it points to; 0 for every other node, as the server sends it."""
    advanced_versioning: bool = False
    """Major/minor versions: asked for at create (``advanced_versioning``) or by a first ``add_major_version``.
    Only such a document can promote a version to the next major one."""

    def __post_init__(self) -> None:
        self.modify_date = self.modify_date or self.create_date
        self.modify_user_id = self.modify_user_id or self.create_user_id

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, "Unknown")

    @property
    def is_container(self) -> bool:
        return self.type in CONTAINER_TYPES

    @property
    def latest(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: int) -> Version | None:
        """Version ``number``: numbers are never reused, so after a delete they have gaps."""
        return next((v for v in self.versions if v.number == number), None)


@dataclass
class Role:
    id: int
    workspace_id: int
    name: str
    leader: bool = False
    description: str = ""
    perms: int = 36995
    members: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    node_id: int
    event_type: int
    audit_date: str
    user_id: int

    @property
    def name(self) -> str:
        return AUDIT_EVENTS.get(self.event_type, "Unknown")


@dataclass(frozen=True)
class ProcessFinished:
    """A workflow process completed or stopped: one notice per process, whether documents are attached
    or not (the documents' audit trails get one event each)."""

    process_id: int
    status: str
    date: str
    """When it finished (``YYYY-MM-DDTHH:MM:SSZ``)."""
    user_id: int


Change = AuditEvent | ProcessFinished
"""What the state tells its listeners (``OpenTextState.listeners``) after recording it."""


@dataclass(frozen=True)
class WorkflowMap:
    id: int
    name: str
    start_step_enabled: bool
    steps: tuple[str, ...]


@dataclass
class DraftProcess:
    id: int
    map_id: int
    doc_ids: list[int]
    attach: bool
    initiator_id: int
    values: dict[str, Any] = field(default_factory=dict)
    process_id: int | None = None


@dataclass
class Process:
    id: int
    map_id: int
    doc_ids: list[int]
    initiator_id: int
    date_initiated: str
    title: str
    due_date: str = ""
    attachment_folder_id: int = 0
    completed_steps: list[str] = field(default_factory=list)
    step_dates: dict[str, str] = field(default_factory=dict)
    status: str = "ontime"
    """ontime (running), completed or stopped; ``workflowlate`` is derived from the due date."""
    values: dict[str, Any] = field(default_factory=dict)
    finished_date: str = ""
    """When it completed or stopped (``YYYY-MM-DDTHH:MM:SS``); "" while running (``wfretention`` filters on it)."""
