"""Large File Upload routes (``/v2/multipart``; the sessions themselves are in ``multipart``).

``GET /v2/multipart/settings`` and ``POST /v2/multipart`` answer the spec's objects as they are
(``multipart_GetSettings``, ``multipart_StartUpload``: no ``results`` envelope); the part, complete
and cancel calls answer the usual ``{"links", "results": {}}``. A part is read from the multipart
field ``part_content`` (with or without a file name), streamed to disk before it is checked, so a
refused part is read whole and its client sees the refusal, not a broken connection.
"""

from __future__ import annotations

from aiohttp import web

from xstream_emulators.opentext import multipart
from xstream_emulators.opentext.encoding import read_form, read_params
from xstream_emulators.opentext.web_common import json, state_of, username

PART_FIELD = "part_content"


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_get(f"{api}/v2/multipart/settings", settings, name="multipart.settings")
    r.add_post(f"{api}/v2/multipart", start, name="multipart.start")
    r.add_post(f"{api}/v2/multipart/{{upload_key}}/{{part_number}}", part, name="multipart.part")
    r.add_post(f"{api}/v2/multipart/{{upload_key}}", complete, name="multipart.complete")
    r.add_delete(f"{api}/v2/multipart/{{upload_key}}", cancel, name="multipart.cancel")


async def settings(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).large_files.as_json())


async def start(request: web.Request) -> web.Response:
    state = state_of(request)
    session = multipart.start(state, username(request), await read_params(request))
    return web.json_response(multipart.start_json(session, state.large_files))


async def part(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await read_form(request, state.content, file_fields=(PART_FIELD,))
    upload = form.files.pop(PART_FIELD, None)
    try:
        multipart.receive_part(state, username(request), request.match_info["upload_key"],
                               request.match_info["part_number"], upload)
    except BaseException:
        if upload is not None:
            upload.discard()
        raise
    finally:
        form.discard()
    return json(request, {})


async def complete(request: web.Request) -> web.Response:
    state = state_of(request)
    await read_params(request)
    multipart.complete(state, username(request), request.match_info["upload_key"])
    return json(request, {})


async def cancel(request: web.Request) -> web.Response:
    multipart.cancel(state_of(request), username(request), request.match_info["upload_key"])
    return json(request, {})
