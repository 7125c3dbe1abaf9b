"""The Salesforce Files REST API of the emulated CRM (the "crm" target is this same emulator).

    POST   {sf}/sobjects/ContentVersion                 sf.content_versions.create -> 201 {"id", "success", "errors"}
           multipart/form-data: part entity_content (JSON: Title, PathOnClient, FirstPublishLocationId for a
           new file, or ContentDocumentId (+ ReasonForChange) for a new version; Document_Type__c optional),
           then part VersionData (the bytes, streamed); or JSON {"ContentUrl", "Title",
           "FirstPublishLocationId"} for a link
    GET    {sf}/sobjects/ContentVersion/{id}            sf.content_versions.get -> the fields (see ``files``)
    GET    {sf}/sobjects/ContentVersion/{id}/VersionData  sf.content_versions.download: the bytes, streamed
    DELETE {sf}/sobjects/ContentDocument/{id}           sf.content_documents.delete -> 204 (every version)

``{sf}`` is ``/services/data/v60.0``. Writes take an Idempotency-Key; ``X-Xstream-Origin`` is recorded
as the rows' ``changed_by_origin``. Errors are Salesforce's ``[{"message", "errorCode", "fields"}]``.
"""

from __future__ import annotations

import mimetypes

from aiohttp import web

from xstream_emulators.erp.config import SALESFORCE_BASE as BASE
from xstream_emulators.erp.files import SalesforceError
from xstream_emulators.erp.uploads import PART_TYPE, SPOOL
from xstream_emulators.erp.web_common import BODY, ORIGIN_HEADER, STATE, content_disposition, json_response


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post(f"{BASE}/sobjects/ContentVersion", create, name="sf.content_versions.create")
    r.add_get(f"{BASE}/sobjects/ContentVersion/{{id}}", get, name="sf.content_versions.get", allow_head=False)
    r.add_get(f"{BASE}/sobjects/ContentVersion/{{id}}/VersionData", download, name="sf.content_versions.download",
              allow_head=False)
    r.add_delete(f"{BASE}/sobjects/ContentDocument/{{id}}", delete_document, name="sf.content_documents.delete")


async def create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    spool = request.get(SPOOL)
    blob = (lambda: state.content.commit(spool)) if spool is not None else None
    version = state.files.create(request[BODY], blob, origin=request.headers.get(ORIGIN_HEADER),
                                 media_type=request.get(PART_TYPE))
    return json_response({"id": version.id, "success": True, "errors": []}, 201)


async def get(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].files.get(request.match_info["id"]).fields())


async def download(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    version = state.files.get(request.match_info["id"])
    if version.blob is None:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    name = version.path_on_client or version.title
    media_type = version.media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.FileResponse(state.content.path(version.blob.sha256), chunk_size=256 * 1024, headers={
        "Content-Type": media_type, "Content-Disposition": content_disposition("attachment", name)})


async def delete_document(request: web.Request) -> web.Response:
    request.app[STATE].files.delete_document(request.match_info["id"])
    return web.Response(status=204)
