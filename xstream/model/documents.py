"""Document commands (flow F2): finished instructions for the document sink, keyed by document.

A command never carries a body: it names where the body is (``SourceRef``: a source system's
attachment, an OpenText node version) and what is known of it (name, media type, size, the
source's checksum). The sink streams the body from there. Keys are per document, so the versions of
one document apply in source order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.business import BusinessObject
from xstream.model.commands import Causation

SourceFormat = Literal["sap", "salesforce"]
"""The attachment API of a source system: SAP ``API_CV_ATTACHMENT_SRV`` or Salesforce Files."""


class SourceRef(BaseModel):
    """A document in a source system: which target's attachment API, and its reference there."""

    model_config = ConfigDict(frozen=True)

    target: str = Field(min_length=1)
    """The downstream target (settings) whose attachment API holds it, e.g. ``erp``."""
    format: SourceFormat
    ref: str = Field(min_length=1)
    """What that API opens: the SAP entity key predicate, or the Salesforce ContentVersion id."""
    document_id: str = Field(min_length=1)
    """The document across its versions: SAP attachment id, Salesforce ContentDocumentId."""
    version: int = Field(ge=1)


class Checksum(BaseModel):
    model_config = ConfigDict(frozen=True)

    algorithm: Literal["sha256", "md5", "sha1"]
    hex: str = Field(min_length=8)


class _DocumentCommand(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(min_length=16)
    document_key: str = Field(min_length=1)
    """The document's key on the command topic: its versions and marks apply in order."""
    business_object: BusinessObject
    """The business object (workspace) the document belongs to: status events are keyed by it."""
    causation: Causation
    rule: str | None = None

    @property
    def kafka_key(self) -> str:
        return self.document_key


class StoreDocument(_DocumentCommand):
    """Put a source document into its business object's workspace: a new document, or a new version
    when the content differs; nothing when OpenText already holds it."""

    kind: Literal["store_document"] = "store_document"
    folder_path: str = ""
    """Below the workspace, e.g. ``Purchase Orders/2026`` (made when missing)."""
    name: str = Field(min_length=1, max_length=248)
    media_type: str = Field(min_length=1)
    size: int | None = Field(default=None, ge=0)
    checksum: Checksum | None = None
    source: SourceRef
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Category name -> attribute name -> value (Document Type, Source Document Id, ...)."""


class MarkDocument(_DocumentCommand):
    """The source deleted its document: the governed copy stays and says so (its attributes set)."""

    kind: Literal["mark_document"] = "mark_document"
    source: SourceRef
    categories: dict[str, dict[str, Any]]


class TargetRecord(BaseModel):
    """The source record a document goes to: a SAP business object, or a Salesforce record."""

    model_config = ConfigDict(frozen=True)

    bo_type: str | None = None
    bo_key: str = Field(min_length=1)
    """SAP object key, or the Salesforce record id."""


class PublishDocument(_DocumentCommand):
    """A workspace document reaches the source record: a copy (new attachment or version) or a link."""

    kind: Literal["publish_document"] = "publish_document"
    node_id: int
    version: int | None = None
    """The version to copy; None: the latest."""
    name: str = Field(min_length=1)
    target: str = Field(min_length=1)
    format: SourceFormat
    mode: Literal["copy", "link"]
    record: TargetRecord
    document_type: str | None = None


class LockVersion(_DocumentCommand):
    """The governed copy: a version that reached its status is locked, and (optionally) linked back."""

    kind: Literal["lock_version"] = "lock_version"
    node_id: int
    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    link_to: PublishDocument | None = None
    """Then written to the source record as a link (copy link -> URL attachment)."""


class SetDocumentAttributes(_DocumentCommand):
    """A decision made elsewhere (an approval in the ERP) shows on the document in OpenText."""

    kind: Literal["set_document_attributes"] = "set_document_attributes"
    node_id: int
    categories: dict[str, dict[str, Any]]


DocumentCommand = Annotated[StoreDocument | MarkDocument | PublishDocument | LockVersion | SetDocumentAttributes,
                            Field(discriminator="kind")]
"""The document command topic's value type."""
AnyDocumentCommand = StoreDocument | MarkDocument | PublishDocument | LockVersion | SetDocumentAttributes
