"""SAP attachments, pure: documents (DMS document info records) linked to business objects, their
versions, the OData entity ``AttachmentContent`` and the rows Debezium would read.

**Model.** An attachment is one document linked to one business object (``BusinessObjectTypeName``
+ ``LinkedSAPObjectKey``): document type ``SAT``, a document number, part ``000``, and one *version*
per upload (``DocumentInfoRecordDocVersion`` ``00``, ``01``, ...). Each version has its own original
(``LogicalDocument``/``ArchiveDocumentID``, the KPro ids of the stored file) and is its own
``AttachmentContent`` entity, addressed by all eight key properties; older versions stay readable by
their key, ``GetAllOriginals`` lists the latest version of each document. A link (``kind`` url,
``CreateUrlAsAttachment``) has MIME type ``text/url``, the URL in ``DocumentURL``, its description as
``FileName`` and no content. Business object types are configured
(:data:`~xstream_emulators.erp.config.SAP_BUSINESS_OBJECTS`): an unknown type is 400, and for a type
backed by an emulator entity (``KNA1`` customers, ``LFA1`` suppliers) the key must be a record id (404).

**Entity** (:func:`entity`, the subset of the real ``AttachmentContent`` properties that carry
information here): the eight keys, ``FileName``, ``FileSize`` (Edm.String, as SAP declares it),
``MimeType``, ``DocumentURL``, ``WorkstationApplication``, ``StorageCategory``, ``ArchiveLinkRepository``,
``BusinessObjectType``, ``SemanticObject``, ``CreatedByUser``, ``CreationDateTime``, ``LastChangedByUser``,
``ChangedDateTime`` (Edm.DateTime), ``HarmonizedDocumentType``, ``AttachmentDeletionIsAllowed``,
``AttachmentRenameIsAllowed``, ``Source``, and ``__metadata`` (``id``, ``uri``, ``type``,
``content_type``, ``media_src``/``edit_media`` = the ``$value`` URL). ``Content`` (the media stream) is
never inlined; the user full names are left out.

**Change feed** (table ``attachments``, key ``{"attachment_id"}``): op c for a new attachment, u for a
new version (``version`` + 1 and the version's number, name, type, size and originals), d with
``before`` for a delete. Columns: ``attachment_id, doc_type, doc_number, doc_part, doc_version,
logical_document, archive_document_id, bo_type, bo_key, file_name, mime_type, file_size (int), version
(int), kind (file|url), url, document_type, storage_category, created_by, created_at, changed_by,
changed_at, changed_by_origin, sha256``. ``document_type`` is an emulator extension standing for the
DMS document type's business meaning (``Purchase Order``, ``Invoice``, ``Contract``), given by the
uploader (header ``X-Document-Type``, admin seeding ``document_type``); ``changed_by_origin`` is the
``X-Xstream-Origin`` of the write that made the row (null for ERP users); ``sha256`` is always null:
SAP keeps no checksum. A delete's ``before`` is the row as it was: it names the last writer, not the
deleting caller (a database delete records no author).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xstream_emulators.erp.content import Blob
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.odata import date, format_key
from xstream_emulators.erp.records import ChangeLog, RecordStore

ATTACHMENTS = "attachments"
ENTITY_TYPE = "API_CV_ATTACHMENT_SRV.AttachmentContent"
KEY_FIELDS = ("DocumentInfoRecordDocType", "DocumentInfoRecordDocNumber", "DocumentInfoRecordDocVersion",
              "DocumentInfoRecordDocPart", "LogicalDocument", "ArchiveDocumentID", "LinkedSAPObjectKey",
              "BusinessObjectTypeName")
DOC_TYPE = "SAT"
DOC_PART = "000"
STORAGE_CATEGORY = "DMS_C1_ST"
URL_MIME_TYPE = "text/url"
API_USER = "COMM_USER"
"""``CreatedByUser`` of API writes: the communication user of the integration."""
ERP_USER = "ERP_USER"
"""``CreatedByUser`` of attachments made by the ERP's own users (``/admin/attachments``)."""
MAX_KEY = 90
_APPLICATIONS = {"pdf": "PDF", "doc": "DOC", "docx": "DOC", "xls": "XLS", "xlsx": "XLS", "txt": "TXT",
                 "jpg": "JPG", "jpeg": "JPG", "png": "PNG", "tif": "TIF", "zip": "ZIP", "xml": "XML"}


@dataclass
class Version:
    doc_version: str
    logical_document: str
    archive_document_id: str
    file_name: str
    mime_type: str
    blob: Blob | None
    url: str | None
    user: str
    at: float


@dataclass
class Attachment:
    attachment_id: str
    doc_number: str
    bo_type: str
    bo_key: str
    kind: str
    document_type: str | None
    versions: list[Version]
    changed_by_origin: str | None
    doc_type: str = DOC_TYPE
    doc_part: str = DOC_PART

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def key(self, version: Version) -> dict[str, str]:
        """The OData key of one version."""
        return dict(zip(KEY_FIELDS, (self.doc_type, self.doc_number, version.doc_version, self.doc_part,
                                     version.logical_document, version.archive_document_id, self.bo_key,
                                     self.bo_type), strict=True))

    def row(self) -> dict[str, Any]:
        """The ``attachments`` table row (what the change feed carries)."""
        first, latest = self.versions[0], self.latest
        return {"attachment_id": self.attachment_id, "doc_type": self.doc_type, "doc_number": self.doc_number,
                "doc_part": self.doc_part, "doc_version": latest.doc_version,
                "logical_document": latest.logical_document, "archive_document_id": latest.archive_document_id,
                "bo_type": self.bo_type, "bo_key": self.bo_key, "file_name": latest.file_name,
                "mime_type": latest.mime_type, "file_size": latest.blob.size if latest.blob else 0,
                "version": len(self.versions), "kind": self.kind, "url": latest.url,
                "document_type": self.document_type, "storage_category": STORAGE_CATEGORY,
                "created_by": first.user, "created_at": _iso(first.at), "changed_by": latest.user,
                "changed_at": _iso(latest.at), "changed_by_origin": self.changed_by_origin, "sha256": None}


def entity(attachment: Attachment, version: Version, service_url: str) -> dict[str, Any]:
    """The ``AttachmentContent`` entity of one version, ``__metadata`` with absolute URIs."""
    key = attachment.key(version)
    uri = f"{service_url}/AttachmentContentSet({format_key(key, KEY_FIELDS)})"
    first = attachment.versions[0]
    extension = version.file_name.rsplit(".", 1)[-1].lower() if "." in version.file_name else ""
    return {"__metadata": {"id": uri, "uri": uri, "type": ENTITY_TYPE, "content_type": version.mime_type,
                           "media_src": f"{uri}/$value", "edit_media": f"{uri}/$value"},
            **key,
            "SemanticObject": "", "WorkstationApplication": "" if version.url else _APPLICATIONS.get(extension, ""),
            "FileSize": str(version.blob.size if version.blob else 0), "FileName": version.file_name,
            "DocumentURL": version.url or "", "MimeType": version.mime_type,
            "CreatedByUser": first.user, "CreationDateTime": date(first.at),
            "BusinessObjectType": attachment.bo_type, "LastChangedByUser": version.user,
            "ChangedDateTime": date(version.at), "StorageCategory": STORAGE_CATEGORY, "ArchiveLinkRepository": "",
            "HarmonizedDocumentType": "", "AttachmentDeletionIsAllowed": True, "AttachmentRenameIsAllowed": True,
            "Source": "DMS"}


class AttachmentStore:
    def __init__(self, log: ChangeLog, records: RecordStore, business_objects: Mapping[str, str | None],
                 wall: Callable[[], float] = time.time) -> None:
        self.log = log
        self.records = records
        self.business_objects = dict(business_objects)
        self._wall = wall
        self.attachments: dict[str, Attachment] = {}
        self._counter = 0
        self._originals = 0
        self.state_changing = 0

    def check_object(self, bo_type: str, bo_key: str, *, must_exist: bool = True) -> None:
        """400 for an unknown type or a malformed key; 404 for a key that is no record of the type's entity."""
        if bo_type not in self.business_objects:
            raise ApiError(400, "CV_ATTACHMENT/001", f"Business object type '{bo_type}' is not supported.")
        if not bo_key or len(bo_key) > MAX_KEY:
            raise ApiError(400, "CV_ATTACHMENT/002", f"LinkedSAPObjectKey must have 1 to {MAX_KEY} characters.")
        entity_name = self.business_objects[bo_type]
        if must_exist and entity_name is not None and bo_key not in self.records.collection(entity_name):
            raise ApiError(404, "CV_ATTACHMENT/003", f"Object {bo_key} of type {bo_type} does not exist.")

    def create(self, bo_type: str, bo_key: str, *, file_name: str, mime_type: str, blob: Blob | None,
               url: str | None = None, document_type: str | None = None, user: str,
               origin: str | None) -> Attachment:
        self.check_object(bo_type, bo_key)
        self._counter += 1
        attachment = Attachment(f"ATT-{self._counter:06d}", str(10_000_000_000 + self._counter), bo_type, bo_key,
                                "url" if url is not None else "file", document_type,
                                [self._version("00", file_name, mime_type, blob, url, user)], origin)
        self.attachments[attachment.attachment_id] = attachment
        self._logged("c", None, attachment)
        return attachment

    def add_version(self, attachment: Attachment, *, file_name: str | None, mime_type: str | None, blob: Blob,
                    user: str, origin: str | None, document_type: str | None = None) -> Attachment:
        """The next version of a file attachment (a link has no versions: 400)."""
        if attachment.kind != "file":
            raise ApiError(400, "CV_ATTACHMENT/005", f"Document {attachment.doc_number} is a link; it has no versions.")
        if len(attachment.versions) >= 100:
            raise ApiError(400, "CV_ATTACHMENT/006", f"Document {attachment.doc_number} has no version left.")
        before = attachment.row()
        latest = attachment.latest
        attachment.versions.append(self._version(f"{len(attachment.versions):02d}", file_name or latest.file_name,
                                                 mime_type or latest.mime_type, blob, None, user))
        attachment.changed_by_origin = origin
        if document_type:
            attachment.document_type = document_type
        self._logged("u", before, attachment)
        return attachment

    def delete(self, attachment: Attachment) -> None:
        del self.attachments[attachment.attachment_id]
        self.state_changing += 1
        self.log.append(ATTACHMENTS, "d", attachment.row(), None, key={"attachment_id": attachment.attachment_id})

    def get(self, attachment_id: str) -> Attachment:
        found = self.attachments.get(attachment_id)
        if found is None:
            raise ApiError(404, "CV_ATTACHMENT/004", f"Attachment {attachment_id} does not exist.")
        return found

    def document(self, bo_type: str, bo_key: str, doc_type: str, doc_number: str, doc_part: str) -> Attachment:
        """The attachment a new version names (document type, number and part, linked to this object)."""
        for attachment in self.attachments.values():
            if (attachment.bo_type, attachment.bo_key, attachment.doc_type, attachment.doc_number,
                    attachment.doc_part) == (bo_type, bo_key, doc_type, doc_number, doc_part):
                return attachment
        raise ApiError(404, "CV_ATTACHMENT/004",
                       f"Document {doc_type} {doc_number} {doc_part} is not linked to {bo_type} {bo_key}.")

    def by_key(self, key: Mapping[str, str]) -> tuple[Attachment, Version]:
        for attachment in self.attachments.values():
            for version in attachment.versions:
                if attachment.key(version) == dict(key):
                    return attachment, version
        raise ApiError(404, "CV_ATTACHMENT/004", "The attachment does not exist.")

    def originals(self, bo_type: str, bo_key: str) -> list[Attachment]:
        self.check_object(bo_type, bo_key, must_exist=False)
        return [a for a in self.attachments.values() if (a.bo_type, a.bo_key) == (bo_type, bo_key)]

    def _version(self, number: str, file_name: str, mime_type: str, blob: Blob | None, url: str | None,
                 user: str) -> Version:
        self._originals += 1
        phio = hashlib.sha1(f"original-{self._originals}".encode(), usedforsecurity=False).hexdigest().upper()
        return Version(number, phio[:32], phio[8:40], file_name, mime_type, blob, url, user, self._wall())

    def _logged(self, op: str, before: dict[str, Any] | None, attachment: Attachment) -> None:
        self.state_changing += 1
        self.log.append(ATTACHMENTS, op, before, attachment.row(), key={"attachment_id": attachment.attachment_id})


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
