"""SAP S/4 attachments (``API_CV_ATTACHMENT_SRV``, OData v2): a document source and sink of flow F2.

Document bodies never travel through Kafka: an attachment row in the ERP's change feed says which
document changed, and its bytes are read here, streamed, from the attachment service. This client
is xstream's side of that service:

- :meth:`SapAttachmentsClient.open` is the :class:`xstream.content.ContentSource`: ``GET
  .../AttachmentContentSet(<key>)/$value``, the bytes as a :class:`~xstream.content.Body` whose
  ``info`` comes from the answer's headers (Content-Disposition file name, Content-Type,
  Content-Length; SAP keeps no checksum, so ``checksum`` is None: :func:`xstream.content.verified`
  computes the sha256 while it streams).
- :meth:`~SapAttachmentsClient.upload` streams a Body up (``POST .../AttachmentContentSet``, headers
  ``Slug`` = the file name percent-encoded, ``BusinessObjectTypeName``, ``LinkedSAPObjectKey``), a new
  version when ``new_version_of`` names the document; :meth:`~SapAttachmentsClient.create_url` links
  a URL (``CreateUrlAsAttachment``, the link back to a workspace document);
  :meth:`~SapAttachmentsClient.list_originals` (``GetAllOriginals``) and
  :meth:`~SapAttachmentsClient.delete`.

Every write carries ``Idempotency-Key`` (a lost answer, AnswerLost, is retried with the same key and
answered from the server's store instead of attaching the file twice) and ``X-Xstream-Origin``. SAP
Gateway wants a CSRF token on writes: it is fetched once (``x-csrf-token: Fetch`` on the service
document) and sent with the session cookies it came with; a 403 ``x-csrf-token: Required`` drops it,
a write without a body is repeated once with a new one, an upload (whose body is read once) fails
retriably so the caller's retry opens the body again. A :class:`SapAttachmentRef` is the attachment's
OData key, small enough for a command to carry; its text form is the key predicate itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from xstream.clients.source_base import REPLAYED_HEADER, SourceClient
from xstream.content import Body, ContentInfo, ContentSource
from xstream.errors import SinkUnavailable
from xstream.http.auth import Authenticator, with_credential
from xstream.http.session import HttpSession
from xstream.http.status import ODATA_V2, classify
from xstream.http.streams import ResponseBody, Upload, filename_of, open_answer, upload_with_credential

SERVICE_PATH = "/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
TARGET = "sap"
URL_MIME_TYPE = "text/url"
CSRF_HEADER = "x-csrf-token"
DOCUMENT_TYPE_HEADER = "X-Document-Type"
"""Emulator extension: the business document type of an upload (stands for the DMS document type)."""
KEY_PROPERTIES = (("doc_type", "DocumentInfoRecordDocType"), ("doc_number", "DocumentInfoRecordDocNumber"),
                  ("doc_version", "DocumentInfoRecordDocVersion"), ("doc_part", "DocumentInfoRecordDocPart"),
                  ("logical_document", "LogicalDocument"), ("archive_document_id", "ArchiveDocumentID"),
                  ("bo_key", "LinkedSAPObjectKey"), ("bo_type", "BusinessObjectTypeName"))
"""(field, OData key property) in the order the service declares the key."""
_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'')*)'(?:,|$)")
_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")


class SapAttachmentRef(BaseModel):
    """Which attachment version: the eight key properties of ``AttachmentContent``. The field names are
    those of the ERP's ``attachments`` change rows, so ``SapAttachmentRef.model_validate(row)`` works."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bo_type: str
    bo_key: str
    doc_type: str = ""
    doc_number: str = ""
    doc_version: str = ""
    doc_part: str = ""
    logical_document: str = ""
    archive_document_id: str = ""

    def predicate(self) -> str:
        """The OData key predicate (``DocumentInfoRecordDocType='SAT',...``), also this ref's text form."""
        return ",".join(f"{name}='{getattr(self, field).replace(chr(39), chr(39) * 2)}'"
                        for field, name in KEY_PROPERTIES)

    def __str__(self) -> str:
        return self.predicate()

    @classmethod
    def parse(cls, predicate: str) -> SapAttachmentRef:
        """A ref from its key predicate; ValueError when it is not one."""
        values = {m.group(1): m.group(2).replace("''", "'") for m in _PAIR.finditer(predicate)}
        if "".join(m.group(0) for m in _PAIR.finditer(predicate)) != predicate or \
                set(values) != {name for _, name in KEY_PROPERTIES}:
            raise ValueError(f"not an AttachmentContent key predicate: {predicate!r}")
        return cls(**{field: values[name] for field, name in KEY_PROPERTIES})

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> SapAttachmentRef:
        return cls(**{field: str(entity.get(name) or "") for field, name in KEY_PROPERTIES})


class SapAttachment(BaseModel):
    """An ``AttachmentContent`` entity as xstream reads it. ``replayed``: the answer came from the
    server's Idempotency-Key store (an earlier attempt already attached it)."""

    model_config = ConfigDict(frozen=True)

    ref: SapAttachmentRef
    file_name: str
    mime_type: str
    file_size: int | None
    kind: Literal["file", "url"]
    url: str | None = None
    created_by: str | None = None
    changed_at: datetime | None = None
    replayed: bool = False

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any], *, replayed: bool = False) -> SapAttachment:
        size = str(entity.get("FileSize") or "").strip()
        url = entity.get("DocumentURL") or None
        mime_type = str(entity.get("MimeType") or "")
        return cls(ref=SapAttachmentRef.from_entity(entity), file_name=str(entity.get("FileName") or ""),
                   mime_type=mime_type, file_size=int(size) if size.isdigit() else None,
                   kind="url" if url or mime_type == URL_MIME_TYPE else "file", url=url,
                   created_by=entity.get("CreatedByUser") or None, changed_at=odata_date(entity.get("ChangedDateTime")),
                   replayed=replayed)


@dataclass(frozen=True)
class _Csrf:
    headers: dict[str, str]
    generation: int


class SapAttachmentsClient(SourceClient):
    """The attachment service of one SAP system (``base_url``: its host, before ``/sap/opu/odata``)."""

    def __init__(self, base_url: str, *, auth: Authenticator | None = None, session: HttpSession | None = None,
                 target: str = TARGET, origin: str = "xstream", service_path: str = SERVICE_PATH,
                 concurrency: int = 4, request_timeout_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        super().__init__(base_url, target=target, policy=ODATA_V2, auth=auth, session=session, origin=origin,
                         concurrency=concurrency, request_timeout_s=request_timeout_s,
                         connect_timeout_s=connect_timeout_s)
        self.service_url = self.base_url + service_path
        self._csrf: _Csrf | None = None
        self._csrf_lock = asyncio.Lock()
        self.csrf_fetches = 0

    # --- the content source -------------------------------------------------------------------------

    @asynccontextmanager
    async def open(self, ref: str | SapAttachmentRef) -> AsyncIterator[Body]:
        """The bytes of one attachment version, streamed (read the Body's chunks once, inside the block)."""
        ref = ref if isinstance(ref, SapAttachmentRef) else SapAttachmentRef.parse(ref)
        operation, url = "sap.attachments.download", f"{self._entity_url(ref)}/$value"

        async def attempt(credential: dict[str, str], generation: int) -> Any:
            return await open_answer(self.session, operation, "GET", url, headers=credential, policy=self.policy)

        response = await with_credential(self.auth, self.target, operation, attempt)
        try:
            info = ContentInfo(name=filename_of(response) or ref.doc_number or "attachment",
                               media_type=response.content_type, size=response.content_length)
            yield ResponseBody(self.target, operation, response, info)
        finally:
            response.release()

    # --- reads --------------------------------------------------------------------------------------

    async def list_originals(self, bo_type: str, bo_key: str) -> list[SapAttachment]:
        """``GetAllOriginals``: the latest version of every attachment of one business object."""
        operation = "sap.attachments.list"
        status, headers, body = await self.send(operation, "GET", f"{self.service_url}/GetAllOriginals",
                                                params={"BusinessObjectTypeName": _literal(bo_type),
                                                        "LinkedSAPObjectKey": _literal(bo_key)})
        payload = classify(self.target, operation, status, headers, body, policy=self.policy)
        return self.shaped(operation, lambda: [SapAttachment.from_entity(e) for e in payload["d"]["results"]])

    # --- writes -------------------------------------------------------------------------------------

    async def upload(self, bo_type: str, bo_key: str, body: Body, *, document_type: str | None = None,
                     new_version_of: SapAttachmentRef | None = None, idempotency_key: str) -> SapAttachment:
        """Attach ``body`` to the business object, streamed; with ``new_version_of`` as that document's next
        version (SAP DMS: same document number, next ``DocumentInfoRecordDocVersion``)."""
        operation, info = "sap.attachments.upload", body.info
        headers = self.writes(idempotency_key) | {
            "Slug": quote(info.name, safe=""), "BusinessObjectTypeName": bo_type, "LinkedSAPObjectKey": bo_key}
        if document_type:
            headers[DOCUMENT_TYPE_HEADER] = document_type
        if new_version_of is not None:
            headers |= {"DocumentInfoRecordDocType": new_version_of.doc_type,
                        "DocumentInfoRecordDocNumber": new_version_of.doc_number,
                        "DocumentInfoRecordDocPart": new_version_of.doc_part}
        csrf = await self._csrf_token()
        upload = Upload(body.chunks(), size=info.size, content_type=info.media_type)
        status, got, answer = await upload_with_credential(self.auth, self.session, operation, "POST",
                                                           f"{self.service_url}/AttachmentContentSet", upload,
                                                           headers=headers | csrf.headers, stall_s=self.stall_s)
        if _csrf_refused(status, got):
            self._forget_csrf(csrf)  # classify reads the refusal as retriable: the retry brings a new token
        payload = classify(self.target, operation, status, got, answer, policy=self.policy, idempotent=True)
        return self.shaped(operation, lambda: SapAttachment.from_entity(
            payload["d"], replayed=got.get(REPLAYED_HEADER) == "true"))

    async def create_url(self, bo_type: str, bo_key: str, url: str, description: str, *,
                         document_type: str | None = None, idempotency_key: str | None = None) -> SapAttachment:
        """Link ``url`` to the business object (``CreateUrlAsAttachment``; SAP allows 255 characters). The
        key defaults to one derived from object, URL and description: the same link is made once."""
        operation = "sap.attachments.create_url"
        key = idempotency_key or _derived_key(operation, bo_type, bo_key, url, description)
        params = {"BusinessObjectTypeName": _literal(bo_type), "LinkedSAPObjectKey": _literal(bo_key),
                  "MIMEType": _literal(URL_MIME_TYPE), "UrlDescription": _literal(description), "Url": _literal(url)}
        extra = {DOCUMENT_TYPE_HEADER: document_type} if document_type else {}
        payload, got = await self._write(operation, "POST", f"{self.service_url}/CreateUrlAsAttachment",
                                         params=params, headers=self.writes(key) | extra)
        return self.shaped(operation, lambda: SapAttachment.from_entity(
            payload["d"], replayed=got.get(REPLAYED_HEADER) == "true"))

    async def delete(self, ref: str | SapAttachmentRef, *, idempotency_key: str | None = None) -> None:
        """Delete an attachment (every version); the key defaults to one derived from the ref."""
        ref = ref if isinstance(ref, SapAttachmentRef) else SapAttachmentRef.parse(ref)
        operation = "sap.attachments.delete"
        key = idempotency_key or _derived_key(operation, ref.predicate())
        await self._write(operation, "DELETE", self._entity_url(ref), headers=self.writes(key))

    # --- CSRF ---------------------------------------------------------------------------------------

    async def _write(self, operation: str, method: str, url: str, *, headers: Mapping[str, str],
                     params: Any = None) -> tuple[Any, Mapping[str, str]]:
        """A write without a body: with the CSRF token, repeated once with a new one if it was refused."""
        for attempt in range(2):
            csrf = await self._csrf_token()
            status, got, body = await self.send(operation, method, url, params=params,
                                                headers=dict(headers) | csrf.headers)
            if _csrf_refused(status, got):
                self._forget_csrf(csrf)
                if attempt == 0:
                    continue
            return classify(self.target, operation, status, got, body, policy=self.policy, idempotent=True), got
        raise AssertionError("unreachable")  # pragma: no cover

    async def _csrf_token(self) -> _Csrf:
        csrf = self._csrf
        if csrf is not None:
            return csrf
        async with self._csrf_lock:
            if self._csrf is None:
                self._csrf = await self._fetch_csrf()
            return self._csrf

    async def _fetch_csrf(self) -> _Csrf:
        operation = "sap.csrf.fetch"
        status, headers, body = await self.send(operation, "GET", f"{self.service_url}/",
                                                headers={CSRF_HEADER: "Fetch"})
        classify(self.target, operation, status, headers, body, policy=self.policy)
        token = headers.get(CSRF_HEADER)
        if not token or token.lower() == "required":
            raise SinkUnavailable(f"{operation}: the answer carries no CSRF token", status=status, target=self.target)
        self.csrf_fetches += 1
        sent = {CSRF_HEADER: token}
        cookies = _cookies(headers)
        if cookies:
            sent["Cookie"] = cookies  # the token belongs to the session these cookies name
        return _Csrf(sent, self.csrf_fetches)

    def _forget_csrf(self, csrf: _Csrf) -> None:
        if self._csrf is not None and self._csrf.generation == csrf.generation:
            self._csrf = None

    # --- helpers ------------------------------------------------------------------------------------

    def _entity_url(self, ref: SapAttachmentRef) -> str:
        return f"{self.service_url}/AttachmentContentSet({quote(ref.predicate(), safe=chr(39) + '=,()')})"



def odata_date(value: Any) -> datetime | None:
    """Edm.DateTime of the JSON format (``/Date(1714557600000)/``) as an aware UTC datetime."""
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC) if match else None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csrf_refused(status: int, headers: Mapping[str, str]) -> bool:
    return status == 403 and (headers.get(CSRF_HEADER) or "").lower() == "required"


def _cookies(headers: Mapping[str, str]) -> str:
    """``name=value; ...`` of the answer's Set-Cookie headers (all of them, not only the first)."""
    getall = getattr(headers, "getall", None)
    values = getall("Set-Cookie", []) if callable(getall) else [headers.get("Set-Cookie") or ""]
    jar: SimpleCookie = SimpleCookie()
    for value in values:
        try:
            jar.load(value)
        except CookieError:
            continue
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


def _derived_key(*parts: str) -> str:
    return "xstream-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _is_content_source(client: SapAttachmentsClient) -> ContentSource:
    """mypy checks here that the client is a :class:`~xstream.content.ContentSource`."""
    return client
