"""Salesforce Files, pure: ContentVersion / ContentDocument, their REST fields, ids and change rows.

**Model.** A file is a ContentDocument (id ``069...``) with one ContentVersion (id ``068...``) per
upload; a new version names the document (``ContentDocumentId``), gets the next ``VersionNumber``,
becomes ``IsLatest`` and the previous one stops being it. The first version says where the file is
published (``FirstPublishLocationId``: a record of any emulator entity, or the API user's library
when absent); later versions keep that. A *link* (``ContentUrl`` with a ``Title``, no ``VersionData``)
is a document of one version, ``FileType`` ``LINK``. Ids are 18-character Salesforce ids (the
15-character form is accepted too); ``Checksum`` is the MD5 hex of ``VersionData``.

**Fields** (:meth:`ContentVersion.fields`): ``attributes`` {type, url}, ``Id``, ``ContentDocumentId``,
``VersionNumber`` (text, as Salesforce sends it), ``IsLatest``, ``Title``, ``PathOnClient``, ``FileType``,
``FileExtension``, ``ContentSize``, ``Checksum``, ``ContentLocation`` ``S``, ``ContentUrl``,
``FirstPublishLocationId``, ``ReasonForChange``, ``Description``, ``VersionData`` (the URL of the body,
null for a link), ``Document_Type__c`` (a custom field: the business classification, optional),
``OwnerId``, ``CreatedById``, ``CreatedDate``, ``LastModifiedDate`` (``2026-05-01T10:00:00.000+0000``).

**Change feed** (table ``content_versions``, key ``{"Id"}``): the same fields under the same names
(without ``attributes`` and the ``VersionData`` URL) plus ``changed_by_origin``, the
``X-Xstream-Origin`` of the write (else null). A new file is op c; a new version is op c of its row
and op u of the previous version's row (``IsLatest`` false); deleting a document is op d of every
version's row.

**Errors** are Salesforce's: ``[{"message", "errorCode", "fields"}]`` with ``REQUIRED_FIELD_MISSING``,
``INVALID_FIELD``, ``INVALID_FIELD_FOR_INSERT_UPDATE``, ``FIELD_INTEGRITY_EXCEPTION``,
``INVALID_CROSS_REFERENCE_KEY``, ``JSON_PARSER_ERROR``, ``NOT_FOUND``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xstream_emulators.erp.config import SALESFORCE_BASE
from xstream_emulators.erp.content import Blob
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.records import ChangeLog, RecordStore

CONTENT_VERSIONS = "content_versions"
WRITABLE = frozenset({"Title", "PathOnClient", "FirstPublishLocationId", "ContentDocumentId", "ReasonForChange",
                      "Description", "ContentUrl", "ContentLocation", "Document_Type__c"})
READ_ONLY = frozenset({"Id", "VersionNumber", "IsLatest", "ContentSize", "Checksum", "FileType", "FileExtension",
                       "OwnerId", "CreatedById", "CreatedDate", "LastModifiedDate"})
_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_FILE_TYPES = {"pdf": "PDF", "doc": "WORD", "docx": "WORD_X", "xls": "EXCEL", "xlsx": "EXCEL_X", "ppt": "POWER_POINT",
               "pptx": "POWER_POINT_X", "txt": "TEXT", "csv": "CSV", "png": "PNG", "jpg": "JPG", "jpeg": "JPEG",
               "gif": "GIF", "zip": "ZIP", "xml": "XML", "html": "HTML", "rtf": "RTF", "msg": "MSG", "eml": "EML"}
MAX_TITLE = 255
MAX_PATH = 500


class SalesforceError(ApiError):
    """An ApiError that names the fields it is about (Salesforce's ``fields``)."""

    def __init__(self, status: int, code: str, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(status, code, message)
        self.fields = list(fields)


def sf_id(prefix: str, number: int) -> str:
    """An 18-character id: key prefix, pod, a counter, and the case-checksum suffix Salesforce appends."""
    base = f"{prefix}8d0{number:09d}"
    suffix = "".join(_ID_SUFFIX[sum(1 << i for i, ch in enumerate(base[n:n + 5]) if ch.isupper())]
                     for n in range(0, 15, 5))
    return base + suffix


API_USER_ID = sf_id("005", 1)
"""The integration user: owner of every file, and the library a file without a location goes to."""


@dataclass
class ContentVersion:
    id: str
    document_id: str
    number: int
    title: str
    path_on_client: str | None
    blob: Blob | None
    url: str | None
    location_id: str
    reason: str | None
    description: str | None
    document_type: str | None
    created: float
    modified: float
    origin: str | None
    media_type: str | None = None
    """The Content-Type the body was sent with (Salesforce keeps none; the download answers with it)."""
    is_latest: bool = True

    @property
    def extension(self) -> str | None:
        name = self.path_on_client or ""
        return name.rsplit(".", 1)[-1].lower() if "." in name else None

    def fields(self) -> dict[str, Any]:
        """The record as ``GET .../sobjects/ContentVersion/{id}`` answers it."""
        url = f"{SALESFORCE_BASE}/sobjects/ContentVersion/{self.id}"
        return {"attributes": {"type": "ContentVersion", "url": url}} | self._columns() | {
            "VersionData": None if self.blob is None else f"{url}/VersionData"}

    def row(self) -> dict[str, Any]:
        """The ``content_versions`` row of the change feed."""
        return self._columns() | {"changed_by_origin": self.origin}

    def _columns(self) -> dict[str, Any]:
        file_type = "LINK" if self.url is not None else _FILE_TYPES.get(self.extension or "", "UNKNOWN")
        return {"Id": self.id, "ContentDocumentId": self.document_id, "VersionNumber": str(self.number),
                "IsLatest": self.is_latest, "Title": self.title, "PathOnClient": self.path_on_client,
                "FileType": file_type, "FileExtension": self.extension,
                "ContentSize": self.blob.size if self.blob else None, "Checksum": self.blob.md5 if self.blob else None,
                "ContentLocation": "S", "ContentUrl": self.url, "FirstPublishLocationId": self.location_id,
                "ReasonForChange": self.reason, "Description": self.description,
                "Document_Type__c": self.document_type, "OwnerId": API_USER_ID, "CreatedById": API_USER_ID,
                "CreatedDate": _sf_date(self.created), "LastModifiedDate": _sf_date(self.modified)}


class FileStore:
    def __init__(self, log: ChangeLog, records: RecordStore, wall: Callable[[], float] = time.time) -> None:
        self.log = log
        self.records = records
        self._wall = wall
        self.versions: dict[str, ContentVersion] = {}
        """By the 15-character id."""
        self.documents: dict[str, list[ContentVersion]] = {}
        self._numbers = {"068": 0, "069": 0}
        self.state_changing = 0

    def create(self, fields: Any, blob: Callable[[], Blob] | None, *, origin: str | None,
               media_type: str | None = None) -> ContentVersion:
        """A new file (``FirstPublishLocationId``), a new version (``ContentDocumentId``) or a link (``ContentUrl``).
        ``blob`` stores the received body; it is called once the request is known to be valid."""
        fields = _checked(fields)
        document_id, url = fields.get("ContentDocumentId"), fields.get("ContentUrl")
        location = fields.get("FirstPublishLocationId")
        if document_id and location:
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "A new version keeps the location of its "
                                  "document: FirstPublishLocationId cannot be set with ContentDocumentId.",
                                  ["FirstPublishLocationId"])
        if blob is None:
            return self._link(fields, url, document_id, location, origin)
        if url:
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "ContentUrl and VersionData cannot both be set.",
                                  ["ContentUrl"])
        path = fields.get("PathOnClient")
        if not path:
            raise SalesforceError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [PathOnClient]",
                                  ["PathOnClient"])
        if document_id:
            version = self._new_version(fields, self._document(document_id), blob, origin)
        else:
            title = fields.get("Title") or path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            where = self._location(location)
            version = self._insert(self._new_id("069"), 1, fields, title, blob(), None, where, origin)
        version.media_type = media_type
        return version

    def get(self, version_id: str) -> ContentVersion:
        found = self.versions.get(version_id[:15]) if len(version_id) in (15, 18) else None
        if found is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return found

    def delete_document(self, document_id: str) -> None:
        versions = self.documents.pop(document_id[:15], None) if len(document_id) in (15, 18) else None
        if versions is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        self.state_changing += 1
        for version in versions:
            del self.versions[version.id[:15]]
            self.log.append(CONTENT_VERSIONS, "d", version.row(), None, key={"Id": version.id})

    def _link(self, fields: dict[str, Any], url: str | None, document_id: str | None, location: str | None,
              origin: str | None) -> ContentVersion:
        if not url:
            raise SalesforceError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]",
                                  ["VersionData"])
        if document_id:
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "A link has no versions.", ["ContentDocumentId"])
        if fields.get("PathOnClient"):
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "A link has no PathOnClient.", ["PathOnClient"])
        if not fields.get("Title"):
            raise SalesforceError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Title]", ["Title"])
        return self._insert(self._new_id("069"), 1, fields, fields["Title"], None, url, self._location(location),
                            origin)

    def _document(self, document_id: str) -> list[ContentVersion]:
        versions = self.documents.get(document_id[:15]) if len(document_id) in (15, 18) else None
        if versions is None:
            raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                  ["ContentDocumentId"])
        if versions[-1].url is not None:
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "A link has no versions.", ["ContentDocumentId"])
        return versions

    def _new_version(self, fields: dict[str, Any], versions: list[ContentVersion], blob: Callable[[], Blob],
                     origin: str | None) -> ContentVersion:
        previous = versions[-1]
        version = self._insert(previous.document_id, previous.number + 1, fields, fields.get("Title") or previous.title,
                               blob(), None, versions[0].location_id, origin, log=False)
        before = previous.row()
        previous.is_latest, previous.modified, previous.origin = False, version.created, origin
        self.log.append(CONTENT_VERSIONS, "c", None, version.row(), key={"Id": version.id})
        self.log.append(CONTENT_VERSIONS, "u", before, previous.row(), key={"Id": previous.id})
        return version

    def _insert(self, document_id: str, number: int, fields: dict[str, Any], title: str, blob: Blob | None,
                url: str | None, location: str, origin: str | None, *, log: bool = True) -> ContentVersion:
        now = self._wall()
        version = ContentVersion(self._new_id("068"), document_id, number, title[:MAX_TITLE],
                                 fields.get("PathOnClient"), blob, url, location, fields.get("ReasonForChange"),
                                 fields.get("Description"), fields.get("Document_Type__c"), now, now, origin)
        self.versions[version.id[:15]] = version
        self.documents.setdefault(document_id[:15], []).append(version)
        self.state_changing += 1
        if log:
            self.log.append(CONTENT_VERSIONS, "c", None, version.row(), key={"Id": version.id})
        return version

    def _location(self, location: str | None) -> str:
        if location is None or location == API_USER_ID:
            return API_USER_ID
        if not any(location in rows for rows in self.records.records.values()):
            raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                  ["FirstPublishLocationId"])
        return location

    def _new_id(self, prefix: str) -> str:
        self._numbers[prefix] += 1
        return sf_id(prefix, self._numbers[prefix])


def _checked(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The entity content must be a JSON object.")
    unknown = sorted(set(fields) - WRITABLE - READ_ONLY)
    if unknown:
        raise SalesforceError(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type ContentVersion",
                              unknown)
    read_only = sorted(set(fields) & READ_ONLY)
    if read_only:
        raise SalesforceError(400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: "
                              f"{', '.join(read_only)}. Please check the security settings of this field and verify "
                              "that it is read/write for your profile or permission set.", read_only)
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise SalesforceError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of string from {name}",
                                  [name])
    if fields.get("ContentLocation") not in (None, "S"):
        raise SalesforceError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              "Content Location: bad value for restricted picklist field", ["ContentLocation"])
    if len(fields.get("Title") or "") > MAX_TITLE or len(fields.get("PathOnClient") or "") > MAX_PATH:
        raise SalesforceError(400, "STRING_TOO_LONG", "Title or PathOnClient: data value too large",
                              ["Title", "PathOnClient"])
    return {k: v for k, v in fields.items() if v is not None}


def _sf_date(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(epoch_s * 1000) % 1000:03d}+0000"
