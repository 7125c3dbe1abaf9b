"""Salesforce Files (``ContentVersion``): a document source and sink of flow F2.

A file in Salesforce is a ContentDocument with one ContentVersion per upload. The CRM's change feed
names a ContentVersion (its ``Id`` and ``ContentDocumentId``); its bytes are read here, streamed:

- :meth:`SalesforceFilesClient.open` is the :class:`xstream.content.ContentSource`: it reads the
  version's fields (``GET .../sobjects/ContentVersion/{id}``: title, path, size and the MD5
  ``Checksum`` Salesforce keeps) and then streams ``.../VersionData``; the Body's ``info`` carries
  the size and the MD5, so :func:`xstream.content.verified` checks both while the bytes pass.
- :meth:`~SalesforceFilesClient.upload` streams a Body up as multipart (part ``entity_content`` JSON:
  ``Title``, ``PathOnClient``, ``FirstPublishLocationId`` = the record, or ``ContentDocumentId`` for a
  new version; part ``VersionData``: the bytes); :meth:`~SalesforceFilesClient.link` makes a link
  file (``ContentUrl``), the link back to a workspace document; :meth:`~SalesforceFilesClient.get`
  reads a version. Salesforce answers a create with its id only, so upload and link read the new
  version once more to return it whole.

Every write carries ``Idempotency-Key`` and ``X-Xstream-Origin``; answers are classified in
Salesforce's dialect (``[{"errorCode", "message"}]``; lock contention and API limits are retriable).
``Document_Type__c`` is the custom field the business classification goes into. A
:class:`ContentVersionRef` is what a command carries; ``ContentVersionRef.model_validate(row)`` reads
it from a ``content_versions`` change row.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from xstream.clients.source_base import SourceClient
from xstream.content import Body, Checksum, ContentInfo, ContentSource
from xstream.errors import SinkRejected, SinkUnavailable
from xstream.http.auth import Authenticator, with_credential
from xstream.http.session import HttpSession
from xstream.http.status import SALESFORCE, classify
from xstream.http.streams import FormPart, ResponseBody, Upload, open_answer, upload_with_credential

API_VERSION = "v60.0"
TARGET = "salesforce"
DOCUMENT_TYPE_FIELD = "Document_Type__c"


class ContentVersionRef(BaseModel):
    """Which file version: the ContentVersion id (``068...``) and, when known, its ContentDocument (``069...``)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    id: str = Field(alias="Id")
    content_document_id: str | None = Field(default=None, alias="ContentDocumentId")

    def __str__(self) -> str:
        return self.id


class ContentVersion(BaseModel):
    """A ContentVersion as Salesforce answers it (field names as aliases)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    id: str = Field(alias="Id")
    content_document_id: str = Field(alias="ContentDocumentId")
    version_number: int = Field(alias="VersionNumber")
    title: str = Field(alias="Title")
    path_on_client: str | None = Field(default=None, alias="PathOnClient")
    file_type: str | None = Field(default=None, alias="FileType")
    file_extension: str | None = Field(default=None, alias="FileExtension")
    content_size: int | None = Field(default=None, alias="ContentSize")
    checksum: str | None = Field(default=None, alias="Checksum")
    """MD5 hex of the body."""
    first_publish_location_id: str | None = Field(default=None, alias="FirstPublishLocationId")
    is_latest: bool = Field(default=True, alias="IsLatest")
    content_url: str | None = Field(default=None, alias="ContentUrl")
    document_type: str | None = Field(default=None, alias="Document_Type__c")
    created_date: datetime | None = Field(default=None, alias="CreatedDate")
    last_modified_date: datetime | None = Field(default=None, alias="LastModifiedDate")

    @field_validator("created_date", "last_modified_date", mode="before")
    @classmethod
    def _salesforce_offset(cls, value: Any) -> Any:
        """Salesforce writes ``...000+0000``; ISO 8601 (and pydantic) want ``+00:00``."""
        if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
            return f"{value[:-2]}:{value[-2:]}"
        return value

    @property
    def ref(self) -> ContentVersionRef:
        return ContentVersionRef(Id=self.id, ContentDocumentId=self.content_document_id)

    @property
    def is_link(self) -> bool:
        return self.content_url is not None


class SalesforceFilesClient(SourceClient):
    """The Files API of one Salesforce org (``instance_url``: ``https://<my-domain>.my.salesforce.com``)."""

    def __init__(self, instance_url: str, *, auth: Authenticator | None = None, session: HttpSession | None = None,
                 target: str = TARGET, origin: str = "xstream", api_version: str = API_VERSION,
                 concurrency: int = 4, request_timeout_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        super().__init__(instance_url, target=target, policy=SALESFORCE, auth=auth, session=session, origin=origin,
                         concurrency=concurrency, request_timeout_s=request_timeout_s,
                         connect_timeout_s=connect_timeout_s)
        self.api_url = f"{self.base_url}/services/data/{api_version}"

    # --- the content source -------------------------------------------------------------------------

    @asynccontextmanager
    async def open(self, ref: str | ContentVersionRef) -> AsyncIterator[Body]:
        """The bytes of one version, streamed, with its size and MD5 from its fields."""
        version = await self.get(ref if isinstance(ref, str) else ref.id)
        if version.is_link:
            raise SinkRejected(f"sf.content_versions.download: {version.id} is a link ({version.content_url}); "
                               "it has no content", target=self.target)
        operation, url = "sf.content_versions.download", f"{self._version_url(version.id)}/VersionData"

        async def attempt(credential: dict[str, str], generation: int) -> Any:
            return await open_answer(self.session, operation, "GET", url, headers=credential, policy=self.policy)

        response = await with_credential(self.auth, self.target, operation, attempt)
        try:
            info = ContentInfo(name=version.path_on_client or version.title, media_type=response.content_type,
                               size=version.content_size,
                               checksum=Checksum("md5", version.checksum) if version.checksum else None)
            yield ResponseBody(self.target, operation, response, info)
        finally:
            response.release()

    # --- reads --------------------------------------------------------------------------------------

    async def get(self, content_version_id: str) -> ContentVersion:
        operation = "sf.content_versions.get"
        status, headers, body = await self.send(operation, "GET", self._version_url(content_version_id))
        payload = classify(self.target, operation, status, headers, body, policy=self.policy)
        return self.shaped(operation, lambda: ContentVersion.model_validate(payload))

    # --- writes -------------------------------------------------------------------------------------

    async def upload(self, record_id: str | None, body: Body, *, title: str | None = None,
                     new_version_of: ContentVersionRef | None = None, reason_for_change: str | None = None,
                     document_type: str | None = None, idempotency_key: str) -> ContentVersion:
        """Publish ``body`` on the record ``record_id`` as a new file, streamed; with ``new_version_of``
        as the next version of that file instead (``record_id`` is then not used: a version stays where
        its document is)."""
        operation, info = "sf.content_versions.create", body.info
        entity: dict[str, Any] = {"PathOnClient": info.name}
        if title:
            entity["Title"] = title
        if new_version_of is not None:
            entity["ContentDocumentId"] = await self._document_of(new_version_of)
            if reason_for_change:
                entity["ReasonForChange"] = reason_for_change
        elif record_id:
            entity["FirstPublishLocationId"] = record_id
        if document_type:
            entity[DOCUMENT_TYPE_FIELD] = document_type
        upload = Upload(body.chunks(), size=info.size, content_type=info.media_type, file_field="VersionData",
                        filename=info.name, form=[FormPart("entity_content", orjson.dumps(entity).decode(),
                                                           "application/json")])
        status, got, answer = await upload_with_credential(self.auth, self.session, operation, "POST",
                                                           f"{self.api_url}/sobjects/ContentVersion", upload,
                                                           headers=self.writes(idempotency_key), stall_s=self.stall_s)
        return await self.get(self._created(operation, status, got, answer))

    async def link(self, record_id: str, url: str, title: str, *, document_type: str | None = None,
                   idempotency_key: str | None = None) -> ContentVersion:
        """A link file (``ContentUrl``) on the record; the key defaults to one derived from record, URL and
        title, so the same link is made once."""
        operation = "sf.content_versions.create"
        key = idempotency_key or "xstream-" + hashlib.sha256(f"link\x1f{record_id}\x1f{url}\x1f{title}".encode()) \
            .hexdigest()[:40]
        entity = {"ContentUrl": url, "Title": title, "FirstPublishLocationId": record_id}
        if document_type:
            entity[DOCUMENT_TYPE_FIELD] = document_type
        status, got, answer = await self.send(operation, "POST", f"{self.api_url}/sobjects/ContentVersion",
                                              data=orjson.dumps(entity),
                                              headers=self.writes(key) | {"Content-Type": "application/json"})
        return await self.get(self._created(operation, status, got, answer))

    # --- helpers ------------------------------------------------------------------------------------

    async def _document_of(self, ref: ContentVersionRef) -> str:
        if ref.content_document_id:
            return ref.content_document_id
        return (await self.get(ref.id)).content_document_id

    def _created(self, operation: str, status: int, headers: Mapping[str, str], body: bytes) -> str:
        payload = classify(self.target, operation, status, headers, body, policy=self.policy, idempotent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) or payload.get("success") is False:
            raise SinkUnavailable(f"{operation}: unexpected answer shape: {payload!r}"[:300], status=status,
                                  target=self.target)
        return str(payload["id"])

    def _version_url(self, content_version_id: str) -> str:
        return f"{self.api_url}/sobjects/ContentVersion/{content_version_id}"



def _is_content_source(client: SalesforceFilesClient) -> ContentSource:
    """mypy checks here that the client is a :class:`~xstream.content.ContentSource`."""
    return client
