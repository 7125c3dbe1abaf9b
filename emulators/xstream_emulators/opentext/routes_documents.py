"""Versions and content downloads (reference 5.3, 5.4), version lock/unlock/promote, update and delete.

Uploads stream to disk (see ``encoding``), or come from a completed Large File Upload named by
``upload_key`` (``multipart``); downloads are served from the blob file with
``web.FileResponse`` (sendfile or chunks, with Range support), ``Content-Type`` of the version and
``Content-Disposition: attachment`` with its file name. pyxecm downloads through v1, so both the v1
and v2 content paths exist, each for the latest or a given version.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from xstream_emulators.opentext import documents, multipart
from xstream_emulators.opentext import views_more as more
from xstream_emulators.opentext.content import Upload
from xstream_emulators.opentext.encoding import Form, read_form, read_params
from xstream_emulators.opentext.model import NOT_ACCESSIBLE, ApiError, Node, Version
from xstream_emulators.opentext.views import node_properties
from xstream_emulators.opentext.web_common import json, page_limit, path_int, state_of, username

DOWNLOAD_CHUNK = 256 * 1024


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_post(f"{api}/v2/nodes/{{node_id}}/versions", add_version, name="versions.add")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/versions", list_versions, name="versions.list")
    r.add_get(f"{api}/v1/nodes/{{node_id}}/versions/latest", latest_version, name="versions.latest")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}", get_version, name="versions.get")
    r.add_put(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}", update_version, name="versions.update")
    r.add_delete(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}", delete_version, name="versions.delete")
    r.add_post(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}/lock", lock_version, name="versions.lock")
    r.add_post(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}/unlock", unlock_version, name="versions.unlock")
    r.add_post(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}/promote", promote_version, name="versions.promote")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/content", content, name="content.get")
    r.add_get(f"{api}/v1/nodes/{{node_id}}/content", content, name="content.get-v1")
    r.add_get(f"{api}/v2/nodes/{{node_id}}/versions/{{number}}/content", content, name="content.get-version")
    r.add_get(f"{api}/v1/nodes/{{node_id}}/versions/{{number}}/content", content, name="content.get-version_v1")


def _document(request: web.Request, status: int = 400) -> Node:
    node = state_of(request).nodes.get(path_int(request, "node_id"))
    if node is None:
        raise ApiError(status, NOT_ACCESSIBLE)
    return node


def file_or_upload_key(request: web.Request, form: Form) -> tuple[Upload | None, str | None]:
    """The call's file: its ``file`` part, else the completed Large File Upload its ``upload_key``
    names (400 "File could not be found within the upload directory" when there is none), with that
    key, to be marked used (:func:`multipart.used`) once the file is stored."""
    upload = form.file()
    key = form.params.get("upload_key")
    if upload is not None or key in (None, ""):
        return upload, None
    return multipart.assembled(state_of(request), username(request), key), str(key)


async def add_version(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _document(request)
    form = await read_form(request, state.content)
    try:
        upload, key = file_or_upload_key(request, form)
        version = documents.add_version(state, username(request), node, form.params, upload)
        if key is not None:
            multipart.used(state, key)
    finally:
        form.discard()
    return json(request, {"data": {"properties": node_properties(state, node),
                                   "versions": more.version_json(node, version)}})


async def list_versions(request: web.Request) -> web.Response:
    node = _document(request)
    order = request.query.get("order") or "asc"
    if order not in ("asc", "desc"):
        raise ApiError(400, "One or more parameters are invalid")
    ordered = node.versions if order == "asc" else list(reversed(node.versions))
    page, limit = page_limit(request.query, 500)
    chunk = ordered[(page - 1) * limit : page * limit]
    return json(request, [{"data": {"versions": more.version_json(node, v)}} for v in chunk],
                collection={"paging": more.collection_paging(page, limit, len(ordered))})


async def get_version(request: web.Request) -> web.Response:
    node = _document(request)
    version = documents.version(node, path_int(request, "number"))
    return json(request, {"data": {"versions": more.version_json(node, version)}})


def _versioned(request: web.Request) -> tuple[Node, int]:
    """The node and version number of a lock/unlock/promote call (an unknown node: 500, as the spec says)."""
    return _document(request, status=500), path_int(request, "number")


def _version_answer(request: web.Request, node: Node, version: Version) -> web.Response:
    return json(request, {"data": {"versions": more.version_json(node, version)}})


async def update_version(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _document(request)
    params = await read_params(request)
    version = documents.update(state, username(request), node, path_int(request, "number"), params)
    return _version_answer(request, node, version)


async def delete_version(request: web.Request) -> web.Response:
    state = state_of(request)
    node = _document(request)
    documents.delete(state, username(request), node, path_int(request, "number"))
    return json(request, {})


async def lock_version(request: web.Request) -> web.Response:
    node, number = _versioned(request)
    return _version_answer(request, node, documents.lock(state_of(request), username(request), node, number))


async def unlock_version(request: web.Request) -> web.Response:
    node, number = _versioned(request)
    return _version_answer(request, node, documents.unlock(state_of(request), node, number))


async def promote_version(request: web.Request) -> web.Response:
    node, number = _versioned(request)
    params = await read_params(request)
    version = documents.promote(state_of(request), username(request), node, number,
                                str(params.get("description") or ""))
    return _version_answer(request, node, version)


async def latest_version(request: web.Request) -> web.Response:
    """v1 shape: ``{"data": {...version}}`` (pyxecm reads ``data.version_number``)."""
    node = _document(request)
    return web.json_response({"data": more.version_json(node, documents.version(node, None))})


async def content(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    node = _document(request, status=500)
    number = path_int(request, "number") if "number" in request.match_info else None
    version = documents.version(node, number, status=500)
    path = state.content.path(version.sha256)
    if not path.is_file():
        raise ApiError(500, f"The content of version {version.number} of node {node.id} is missing on disk.")
    return web.FileResponse(path, chunk_size=DOWNLOAD_CHUNK, headers={
        "Content-Type": version.mime_type,
        "Content-Disposition": content_disposition(version.file_name),
    })


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and, for other names, an RFC 5987 ``filename*``."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_").replace("\\", "_")
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
