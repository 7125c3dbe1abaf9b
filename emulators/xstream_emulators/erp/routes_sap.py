"""The SAP S/4 attachment service ``API_CV_ATTACHMENT_SRV`` (OData v2, JSON) of the emulated ERP.

    GET|HEAD {svc}/                                              sap.service (service document; CSRF fetch)
    GET    {svc}/GetAllOriginals?BusinessObjectTypeName='BUS2012'&LinkedSAPObjectKey='4500000001'
                                                                 sap.attachments.list -> {"d": {"results": [...]}}
    POST   {svc}/AttachmentContentSet                            sap.attachments.upload -> 201 {"d": {...}}, Location
           headers Slug (file name, percent-encoded UTF-8), BusinessObjectTypeName, LinkedSAPObjectKey,
           Content-Type; body: the raw bytes, streamed. A new *version* of a document linked to the same
           object: also DocumentInfoRecordDocType, DocumentInfoRecordDocNumber (and DocumentInfoRecordDocPart,
           default 000) naming it -> the next DocumentInfoRecordDocVersion. Optional X-Document-Type
           (emulator extension: the business document type, e.g. "Purchase Order").
    GET    {svc}/AttachmentContentSet(<8 key properties>)        sap.attachments.get -> {"d": {...}}
    GET    {svc}/AttachmentContentSet(<8 key properties>)/$value sap.attachments.download: the bytes, streamed
                                                                 (Content-Type, Content-Length, Content-Disposition)
    DELETE {svc}/AttachmentContentSet(<8 key properties>)        sap.attachments.delete -> 204 (every version)
    POST   {svc}/CreateUrlAsAttachment?BusinessObjectTypeName='..'&LinkedSAPObjectKey='..'&MIMEType='text/url'
           &UrlDescription='..'&Url='..'                         sap.attachments.create_url -> {"d": {...}}

``{svc}`` is ``/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV``. Every write needs the CSRF token of a
fetch (see ``csrf``; the middleware checks it) and takes an Idempotency-Key; ``X-Xstream-Origin`` is
recorded as the row's ``changed_by_origin``. Model, entity and change rows: ``attachments``. Only the
JSON format is served (as with ``Accept: application/json`` or ``$format=json``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from xstream_emulators.erp.attachments import (
    API_USER,
    DOC_PART,
    DOC_TYPE,
    KEY_FIELDS,
    URL_MIME_TYPE,
    Attachment,
    Version,
    entity,
)
from xstream_emulators.erp.config import SAP_ATTACHMENT_SERVICE as SERVICE
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.odata import parse_key, parse_literal
from xstream_emulators.erp.uploads import SPOOL
from xstream_emulators.erp.web_common import ORIGIN_HEADER, STATE, content_disposition, json_response

ENTITY_SETS = ("AttachmentContentSet", "SAPObjectDocumentTypeSet", "AttachmentHarmonizedOperationSet",
               "A_DocumentInfoRecordAttch")
MAX_URL = 255
DOCUMENT_TYPE_HEADER = "X-Document-Type"


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get(f"{SERVICE}{{slash:/?}}", service_document, name="sap.service")
    r.add_get(f"{SERVICE}/GetAllOriginals", get_all_originals, name="sap.attachments.list", allow_head=False)
    r.add_post(f"{SERVICE}/AttachmentContentSet", upload, name="sap.attachments.upload")
    r.add_get(f"{SERVICE}/AttachmentContentSet({{key:.+}})/$value", download, name="sap.attachments.download",
              allow_head=False)
    r.add_get(f"{SERVICE}/AttachmentContentSet({{key:.+}})", get_attachment, name="sap.attachments.get",
              allow_head=False)
    r.add_delete(f"{SERVICE}/AttachmentContentSet({{key:.+}})", delete, name="sap.attachments.delete")
    r.add_post(f"{SERVICE}/CreateUrlAsAttachment", create_url, name="sap.attachments.create_url")


async def service_document(request: web.Request) -> web.Response:
    return json_response({"d": {"EntitySets": list(ENTITY_SETS)}})


async def get_all_originals(request: web.Request) -> web.Response:
    bo_type, bo_key = _object(request.query.get("BusinessObjectTypeName"), request.query.get("LinkedSAPObjectKey"))
    found = request.app[STATE].attachments.originals(bo_type, bo_key)
    return json_response({"d": {"results": [entity(a, a.latest, _service_url(request)) for a in found]}})


async def get_attachment(request: web.Request) -> web.Response:
    attachment, version = _addressed(request)
    return json_response({"d": entity(attachment, version, _service_url(request))})


async def download(request: web.Request) -> web.StreamResponse:
    attachment, version = _addressed(request)
    if version.blob is None:
        raise ApiError(400, "CV_ATTACHMENT/008", f"Document {attachment.doc_number} is a link ({version.url}); "
                       "it has no content.")
    return web.FileResponse(request.app[STATE].content.path(version.blob.sha256), chunk_size=256 * 1024, headers={
        "Content-Type": version.mime_type, "Content-Disposition": content_disposition("inline", version.file_name)})


async def upload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    headers = request.headers
    slug = headers.get("Slug")
    if not slug:
        raise ApiError(400, "CV_ATTACHMENT/007", "Header Slug (the file name) is missing.")
    bo_type, bo_key = headers.get("BusinessObjectTypeName", ""), headers.get("LinkedSAPObjectKey", "")
    if not bo_type or not bo_key:
        raise ApiError(400, "CV_ATTACHMENT/007", "Headers BusinessObjectTypeName and LinkedSAPObjectKey are required.")
    state.attachments.check_object(bo_type, bo_key)
    doc_number = headers.get("DocumentInfoRecordDocNumber")
    existing = None
    if doc_number:
        existing = state.attachments.document(bo_type, bo_key, headers.get("DocumentInfoRecordDocType") or DOC_TYPE,
                                              doc_number, headers.get("DocumentInfoRecordDocPart") or DOC_PART)
    file_name, mime_type = unquote(slug), request.content_type or "application/octet-stream"
    blob = state.content.commit(request[SPOOL])
    origin, document_type = headers.get(ORIGIN_HEADER), headers.get(DOCUMENT_TYPE_HEADER)
    if existing is not None:
        attachment = state.attachments.add_version(existing, file_name=file_name, mime_type=mime_type, blob=blob,
                                                   user=API_USER, origin=origin, document_type=document_type)
    else:
        attachment = state.attachments.create(bo_type, bo_key, file_name=file_name, mime_type=mime_type, blob=blob,
                                              document_type=document_type, user=API_USER, origin=origin)
    return _entity_response(request, attachment, attachment.latest, 201)


async def create_url(request: web.Request) -> web.Response:
    query = request.query
    bo_type, bo_key = _object(query.get("BusinessObjectTypeName"), query.get("LinkedSAPObjectKey"))
    url = parse_literal("Url", query.get("Url"))
    description = parse_literal("UrlDescription", query.get("UrlDescription"))
    mime_type = parse_literal("MIMEType", query.get("MIMEType"))
    assert url is not None and description is not None
    if not url or len(url) > MAX_URL:
        raise ApiError(400, "CV_ATTACHMENT/009", f"Url must have 1 to {MAX_URL} characters.")
    if mime_type != URL_MIME_TYPE:
        raise ApiError(400, "CV_ATTACHMENT/010", f"MIMEType must be {URL_MIME_TYPE!r} for a URL attachment.")
    attachment = request.app[STATE].attachments.create(
        bo_type, bo_key, file_name=description or url, mime_type=URL_MIME_TYPE, blob=None, url=url,
        document_type=request.headers.get(DOCUMENT_TYPE_HEADER), user=API_USER,
        origin=request.headers.get(ORIGIN_HEADER))
    return _entity_response(request, attachment, attachment.latest, 200)


async def delete(request: web.Request) -> web.Response:
    attachment, _ = _addressed(request)
    request.app[STATE].attachments.delete(attachment)
    return web.Response(status=204)


def _object(bo_type: str | None, bo_key: str | None) -> tuple[str, str]:
    parsed_type = parse_literal("BusinessObjectTypeName", bo_type)
    parsed_key = parse_literal("LinkedSAPObjectKey", bo_key)
    assert parsed_type is not None and parsed_key is not None
    return parsed_type, parsed_key


def _addressed(request: web.Request) -> tuple[Attachment, Version]:
    return request.app[STATE].attachments.by_key(parse_key(request.match_info["key"], KEY_FIELDS))


def _entity_response(request: web.Request, attachment: Attachment, version: Version, status: int) -> web.Response:
    body: dict[str, Any] = {"d": entity(attachment, version, _service_url(request))}
    headers = {"Location": body["d"]["__metadata"]["uri"]} if status == 201 else None
    return json_response(body, status, headers)


def _service_url(request: web.Request) -> str:
    return f"{request.url.origin()}{SERVICE}"
