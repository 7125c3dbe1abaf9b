"""Admin API for SAP attachments: what the ERP's own users do, for tests and the demo (unauthenticated,
not counted, never faulted; every change goes through the change feed like an API upload).

    GET    /admin/attachments?bo_type=..&bo_key=..     -> {"attachments": [row, ...]} (rows as in the feed,
                                                          plus ``stored_sha256`` of the latest body)
    POST   /admin/attachments?bo_type=BUS2012&bo_key=4500000001&file_name=po.pdf&mime=application/pdf
           &document_type=Purchase%20Order            body: the bytes, streamed -> 201 row (op c)
           (``url=...`` instead of a body: a link; ``file_name`` is then its description)
    POST   /admin/attachments/{attachment_id}/versions?file_name=..&mime=..   body: the bytes -> 200 row (op u)
    DELETE /admin/attachments/{attachment_id}           -> 200 {"deleted": row} (op d)

``created_by``/``changed_by`` is ``ERP_USER`` and ``changed_by_origin`` null, as for an ERP user's own
edit. Errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from xstream_emulators.erp.attachments import ERP_USER, URL_MIME_TYPE, Attachment
from xstream_emulators.erp.content import CHUNK_SIZE, Blob
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.state import ErpState
from xstream_emulators.erp.web_common import error_response, json_response


def add_attachment_admin_routes(app: web.Application, state: ErpState) -> None:
    async def list_attachments(request: web.Request) -> web.Response:
        query = request.query
        found = [a for a in state.attachments.attachments.values()
                 if query.get("bo_type") in (None, a.bo_type) and query.get("bo_key") in (None, a.bo_key)]
        return json_response({"attachments": [_row(a) for a in found]})

    async def create(request: web.Request) -> web.Response:
        query = request.query
        try:
            bo_type, bo_key, file_name = _required(query, "bo_type"), _required(query, "bo_key"), query.get("file_name")
            url = query.get("url")
            if url is None and not file_name:
                raise ApiError(400, "invalid_parameter", "file_name is required.")
            state.attachments.check_object(bo_type, bo_key)
            blob = None if url is not None else await _receive(request, state)
            attachment = state.attachments.create(
                bo_type, bo_key, file_name=file_name or url or "", blob=blob, url=url,
                mime_type=URL_MIME_TYPE if url is not None else query.get("mime") or "application/octet-stream",
                document_type=query.get("document_type"), user=ERP_USER, origin=None)
        except ApiError as exc:
            return error_response(exc)
        return json_response(_row(attachment), 201)

    async def add_version(request: web.Request) -> web.Response:
        try:
            attachment = state.attachments.get(request.match_info["attachment_id"])
            if attachment.kind != "file":
                raise ApiError(400, "invalid_parameter", "A link has no versions.")
            blob = await _receive(request, state)
            state.attachments.add_version(attachment, file_name=request.query.get("file_name"),
                                          mime_type=request.query.get("mime"), blob=blob, user=ERP_USER, origin=None,
                                          document_type=request.query.get("document_type"))
        except ApiError as exc:
            return error_response(exc)
        return json_response(_row(attachment))

    async def delete(request: web.Request) -> web.Response:
        try:
            attachment = state.attachments.get(request.match_info["attachment_id"])
        except ApiError as exc:
            return error_response(exc)
        row = _row(attachment)
        state.attachments.delete(attachment)
        return json_response({"deleted": row})

    r = app.router
    r.add_get("/admin/attachments", list_attachments, name="admin.attachments")
    r.add_post("/admin/attachments", create, name="admin.attachments.create")
    r.add_post("/admin/attachments/{attachment_id}/versions", add_version, name="admin.attachments.version")
    r.add_delete("/admin/attachments/{attachment_id}", delete, name="admin.attachments.delete")


async def _receive(request: web.Request, state: ErpState) -> Blob:
    spool = state.content.spool()
    try:
        async for chunk in request.content.iter_chunked(CHUNK_SIZE):
            spool.write(chunk)
        return state.content.commit(spool)
    finally:
        spool.discard()


def _required(query: Any, name: str) -> str:
    value = query.get(name)
    if not value:
        raise ApiError(400, "invalid_parameter", f"{name} is required.")
    return str(value)


def _row(attachment: Attachment) -> dict[str, Any]:
    blob = attachment.latest.blob
    return attachment.row() | {"stored_sha256": blob.sha256 if blob else None}
