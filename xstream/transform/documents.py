"""Documents both ways (flow F2), the pure part: change events and OpenText events -> document commands.

- **Inbound**: an attachment row (SAP ``attachments``, Salesforce ``content_versions``) is a
  notification: :func:`attachment_of` reads what it says (ids, version, name, media type, size, the
  source's checksum, its business object, who wrote it), :func:`plan_inbound` judges it against its
  rule: a ``store_document`` (the sink fetches the body from the source and streams it into the
  workspace), a ``mark_document`` for a delete, or why nothing (not for this rule, too large, an
  echo of xstream's own write).
- **Outbound**: :func:`plan_outbound` turns an OpenText observation (a document added or versioned
  in a workspace) into ``publish_document`` commands for the rules that want it in a source record;
  a document that came *from* that source (it carries its source id) is not sent back.
- **Approvals**: :func:`plan_approval` turns a decided approval (the ERP's CDC) into the document's
  Status in OpenText (``set_document_attributes``).

Idempotency keys derive from the source identity and position, so a replay sends the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.change import ChangeEvent, Op
from xstream.model.commands import ORIGIN, Causation, idempotency_key
from xstream.model.documents import (
    Checksum,
    MarkDocument,
    PublishDocument,
    SetDocumentAttributes,
    SourceFormat,
    SourceRef,
    StoreDocument,
    TargetRecord,
)
from xstream.model.opentext import DOCUMENT_KINDS, OpenTextEvent, attribute
from xstream.model.record import RecordRef as RecordPosition
from xstream.transform.document_rules import (
    APPROVAL,
    INBOUND,
    OUTBOUND,
    ApprovalRule,
    DocumentAttributes,
    DocumentRuleSet,
    InboundRule,
    size_limit,
)
from xstream.transform.templates import by_name

DEFAULT_FOLDER = "Documents"


@dataclass(frozen=True)
class NoDocument:
    """The event needs no document command; ``why`` is counted and logged."""

    why: str
    echo: bool = False


@dataclass(frozen=True)
class Attachment:
    """What an attachment row says, the same for every source format."""

    format: SourceFormat
    document_id: str
    version: int
    ref: str
    """What the source's attachment API opens (SAP entity key predicate, Salesforce ContentVersion id)."""
    name: str
    media_type: str
    size: int | None
    checksum: Checksum | None
    bo_type: str | None
    bo_key: str
    document_type: str | None
    kind: str
    """``file`` or ``url`` (a link-type attachment: nothing to store)."""
    origin: str | None
    changed_by: str | None
    """Who wrote the row (SAP ``changed_by``; Salesforce ``CreatedById``: a version is created, not changed)."""
    changed_at: str | None

    def values(self, folder: str) -> dict[str, Any]:
        year = self.changed_at[:4] if self.changed_at and self.changed_at[:4].isdecimal() and self.changed_at[:4].isascii() else None
        return {"bo_type": self.bo_type, "bo_key": self.bo_key, "record_id": self.bo_key, "file_name": self.name,
                "document_type": self.document_type, "year": year, "folder": folder,
                "attachment_id": self.document_id, "version": self.version, "mime_type": self.media_type}


def attachment_of(event: ChangeEvent, format: SourceFormat) -> Attachment:
    """The notice in a SAP ``attachments`` or Salesforce ``content_versions`` row; MappingError
    (missing_field, wrong_type) when the row is not one."""
    row = event.row if event.op is not Op.DELETE else {**event.key, **(event.before or {})}
    if format == "sap":
        return Attachment(
            format="sap", document_id=_text(row, "attachment_id"), version=_count(row, "version", 1),
            ref=_sap_ref(row), name=_text(row, "file_name"), media_type=_text(row, "mime_type", "application/octet-stream"),
            size=_size(row, "file_size"), checksum=_sha256(row), bo_type=_text(row, "bo_type"), bo_key=_text(row, "bo_key"),
            document_type=_optional(row, "document_type"), kind=_text(row, "kind", "file"),
            origin=_optional(row, "changed_by_origin"), changed_by=_optional(row, "changed_by"),
            changed_at=_optional(row, "changed_at"))
    checksum = _optional(row, "Checksum")
    return Attachment(
        format="salesforce", document_id=_text(row, "ContentDocumentId"), version=_count(row, "VersionNumber", 1),
        ref=_text(row, "Id"), name=_optional(row, "PathOnClient") or _text(row, "Title"),
        media_type=_media_type(row), size=_size(row, "ContentSize"),
        checksum=Checksum(algorithm="md5", hex=checksum) if checksum else None, bo_type=None,
        bo_key=_text(row, "FirstPublishLocationId"), document_type=_optional(row, "Document_Type__c"),
        kind="url" if _optional(row, "ContentUrl") else "file", origin=_optional(row, "changed_by_origin"),
        changed_by=_optional(row, "CreatedById"), changed_at=_optional(row, "LastModifiedDate") or _optional(row, "CreatedDate"))


def plan_inbound(event: ChangeEvent, rule: InboundRule, attributes: DocumentAttributes,
                 system: str) -> StoreDocument | MarkDocument | NoDocument:
    attachment = attachment_of(event, rule.source.format)
    if event.op is not Op.DELETE and event.row.get("IsLatest") is False:
        return NoDocument(f"{attachment.name} version {attachment.version} is no longer the latest")
    if attachment.origin == ORIGIN:
        return NoDocument(f"echo: {attachment.name} was written by xstream", echo=True)
    if attachment.changed_by is not None and attachment.changed_by in rule.source.echo_users:
        return NoDocument(f"echo: {attachment.name} was written by xstream's user {attachment.changed_by}", echo=True)
    when = rule.when
    if when.bo_types is not None and attachment.bo_type not in when.bo_types:
        return NoDocument(f"business object type {attachment.bo_type} is not one of rule {rule.name}'s")
    if when.document_types is not None and not _one_of(attachment.document_type, when.document_types):
        return NoDocument(f"document type {attachment.document_type!r} is not one of rule {rule.name}'s")
    if attachment.kind != "file":
        return NoDocument(f"{attachment.name} is a link, not a document")
    wanted = (attachment.document_type or "").casefold()  # as the type filter: case is not a difference
    folder = next((f for t, f in rule.folders.items() if t.casefold() == wanted), DEFAULT_FOLDER)
    values = attachment.values(folder)
    lookup = by_name(values)
    bo = BusinessObject(ext_system_id=rule.workspace.ext_system_id, bo_type=rule.workspace.bo_type,
                        bo_id=INBOUND.fill(rule.workspace.bo_id, lookup, what=f"rule {rule.name}: workspace.bo_id"))
    source = SourceRef(target=rule.source.target, format=attachment.format, ref=attachment.ref,
                       document_id=attachment.document_id, version=attachment.version)
    cause = _causation(event, system)
    key = f"{system}/{attachment.format}/{attachment.document_id}"
    if event.op is Op.DELETE:
        if rule.on_delete == "ignore":
            return NoDocument(f"d ignored by rule {rule.name} (on_delete: ignore)")
        return MarkDocument(idempotency_key=_key(event, system, attachment, "mark_document"), document_key=key,
                            business_object=bo, causation=cause, rule=rule.name, source=source,
                            categories={attributes.category: {attributes.status: rule.deleted_status}})
    if when.media_types is not None and not _one_of(attachment.media_type, when.media_types):
        return NoDocument(f"media type {attachment.media_type} is not one of rule {rule.name}'s")
    if attachment.size is not None and attachment.size > size_limit(rule):
        raise MappingError(DeadLetterReason.OVERSIZE, f"rule {rule.name}: {attachment.name} is {attachment.size} "
                                                      f"bytes, the rule takes at most {size_limit(rule)}")
    return StoreDocument(
        idempotency_key=_key(event, system, attachment, "store_document"), document_key=key, business_object=bo,
        causation=cause, rule=rule.name, source=source,
        folder_path=INBOUND.fill(rule.folder, lookup, what=f"rule {rule.name}: folder", required=False).strip("/"),
        name=INBOUND.fill(rule.document_name, lookup, what=f"rule {rule.name}: document_name"),
        media_type=attachment.media_type, size=attachment.size, checksum=attachment.checksum,
        categories={attributes.category: {
            attributes.type: attachment.document_type, attributes.source_id: attachment.document_id,
            attributes.source_version: str(attachment.version), attributes.status: rule.status}})


def plan_outbound(event: OpenTextEvent, rules: DocumentRuleSet, record: RecordPosition) -> list[PublishDocument]:
    """The publish commands an OpenText observation makes (added or versioned documents only)."""
    if event.kind not in DOCUMENT_KINDS or event.snapshot or event.workspace is None:
        return []
    attributes, document, workspace = rules.attributes, event.document, event.workspace
    if attribute(document.attributes, attributes.category, attributes.source_id) not in (None, ""):
        return []  # it came from a source system: it is not sent back (echo, by origin)
    doc_type = attribute(document.attributes, attributes.category, attributes.type)
    bo = workspace.business_object
    if bo is None:
        return []
    values = {"bo_id": bo.bo_id, "bo_type": bo.bo_type, "ext_system_id": bo.ext_system_id,
              "document_name": document.name, "document_type": doc_type, "workspace_name": workspace.name}
    commands = []
    for rule in rules.outbound:
        if rule.when.workspace_types is not None and not _one_of(workspace.type_name, rule.when.workspace_types):
            continue
        if rule.when.document_types is not None and not _one_of(doc_type, rule.when.document_types):
            continue
        target_record = TargetRecord(bo_type=rule.record.bo_type,
                           bo_key=OUTBOUND.fill(rule.record.bo_key, by_name(values), what=f"rule {rule.name}: record"))
        version = document.version
        mode = rule.to.as_
        # a link is one per document (its URL does not change with versions); a copy is one per version
        identity = f"{mode}:{rule.to.target}:{document.node_id}" + (f":{version}" if mode == "copy" else "")
        commands.append(PublishDocument(
            idempotency_key=idempotency_key(source_system="opentext", entity="document", key={"node": document.node_id},
                                            position=identity, command_kind=f"publish_document:{rule.name}"),
            document_key=f"opentext/{document.node_id}", business_object=bo, rule=rule.name,
            causation=_opentext_causation(event, record), node_id=document.node_id, version=version,
            name=document.name, target=rule.to.target, format=rule.to.format, mode=mode, record=target_record,
            document_type=doc_type if isinstance(doc_type, str) else None))
    return commands


def plan_approval(event: ChangeEvent, rule: ApprovalRule, attributes: DocumentAttributes,
                  system: str) -> SetDocumentAttributes | NoDocument:
    """A decided approval about an OpenText document -> that document's Status; anything else, nothing."""
    if event.op is Op.DELETE:
        return NoDocument("approval deleted")
    row = event.row
    status = row.get("status")
    before = (event.before or {}).get("status")
    if not isinstance(status, str) or status not in rule.statuses or status == before:
        return NoDocument(f"approval status {status!r} sets no document status (rule {rule.name})")
    reference = row.get("reference")
    node = reference.get("document_id") if isinstance(reference, dict) else None
    if isinstance(node, bool) or not isinstance(node, int | str) or not (str(node).isascii() and str(node).isdecimal()):
        return NoDocument(f"approval {row.get('id')!r} is not about an OpenText document")
    pointer = row.get("record")
    record: dict[str, Any] = pointer if isinstance(pointer, dict) else {}
    values = {"record_id": record.get("id"), "record_entity": record.get("entity"), "approval_id": row.get("id")}
    bo = BusinessObject(ext_system_id=rule.business_object.ext_system_id, bo_type=rule.business_object.bo_type,
                        bo_id=APPROVAL.fill(rule.business_object.bo_id, by_name(values),
                                            what=f"rule {rule.name}: business_object.bo_id"))
    return SetDocumentAttributes(
        idempotency_key=idempotency_key(source_system=system, entity=event.entity, key=event.key or {},
                                        position=event.position, command_kind="set_document_attributes"),
        document_key=f"opentext/{int(node)}", business_object=bo, rule=rule.name, causation=_causation(event, system),
        node_id=int(node), categories={attributes.category: {attributes.status: rule.statuses[status]}})


# --- helpers ---------------------------------------------------------------------------------------

def version_categories(categories: dict[str, dict[str, Any]],
                       attributes: DocumentAttributes) -> dict[str, dict[str, Any]]:
    """What a new version of a governed copy writes: the command's category values without its Status,
    which belongs to the copy from its creation on (a decision made in OpenText is not undone by the
    source sending a new version); the source identity and type go with every version."""
    return {category: {name: value for name, value in values.items()
                       if (category, name) != (attributes.category, attributes.status)}
            for category, values in categories.items()}


def _sha256(row: dict[str, Any]) -> Checksum | None:
    """A SAP row's content hash, where the DMS keeps one (a ``sha256`` column; most keep none)."""
    value = _optional(row, "sha256")
    return Checksum(algorithm="sha256", hex=value) if value else None


def _one_of(value: Any, wanted: list[str]) -> bool:
    return isinstance(value, str) and value.casefold() in {w.casefold() for w in wanted}


def _text(row: dict[str, Any], field: str, default: str | None = None) -> str:
    value = row.get(field, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MappingError(DeadLetterReason.MISSING_FIELD, f"attachment row: field {field!r} is missing or empty")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MappingError(DeadLetterReason.WRONG_TYPE, f"attachment row: field {field!r} is a "
                                                        f"{type(value).__name__}, not text")
    return str(value)


def _optional(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    return None if value in (None, "") else _text(row, field)


def _count(row: dict[str, Any], field: str, default: int) -> int:
    value = row.get(field, default)
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdecimal())):
        raise MappingError(DeadLetterReason.WRONG_TYPE, f"attachment row: field {field!r} is not a count")
    return int(value)


def _size(row: dict[str, Any], field: str) -> int | None:
    return None if row.get(field) in (None, "") else _count(row, field, 0)


def _media_type(row: dict[str, Any]) -> str:
    file_type = (_optional(row, "FileType") or "").lower()
    return {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "txt": "text/plain",
            "word_x": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "excel_x": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}.get(
        file_type, "application/octet-stream")


SAP_KEY = (("DocumentInfoRecordDocType", "doc_type"), ("DocumentInfoRecordDocNumber", "doc_number"),
           ("DocumentInfoRecordDocPart", "doc_part"), ("DocumentInfoRecordDocVersion", "doc_version"),
           ("LogicalDocument", "logical_document"), ("ArchiveDocumentID", "archive_document_id"),
           ("LinkedSAPObjectKey", "bo_key"), ("BusinessObjectTypeName", "bo_type"))


def _sap_ref(row: dict[str, Any]) -> str:
    """The OData key predicate of the attachment's current version (what the download opens)."""
    return ",".join(f"{name}='{str(row.get(field) or '').replace(chr(39), chr(39) * 2)}'" for name, field in SAP_KEY)


def _causation(event: ChangeEvent, system: str) -> Causation:
    return Causation(source_system=system, entity=event.entity, op=event.op.value, source_position=event.position,
                     topic=event.record.topic, partition=event.record.partition, offset=event.record.offset)


def _opentext_causation(event: OpenTextEvent, record: RecordPosition) -> Causation:
    return Causation(source_system="opentext", entity="document", op=event.kind.value, source_position=event.event_id,
                     topic=record.topic, partition=record.partition, offset=record.offset)


def _key(event: ChangeEvent, system: str, attachment: Attachment, kind: str) -> str:
    """Stable per attachment, version and source position: from the row, so the same row with or
    without a Kafka record key (connectors differ) gives the same key."""
    return idempotency_key(source_system=system, entity=event.entity,
                           key={"format": attachment.format, "document_id": attachment.document_id},
                           position=f"{event.position}:{attachment.version}", command_kind=kind)

