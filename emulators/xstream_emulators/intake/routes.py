"""The one public route: attachments delivered by reference, as the file share of a mail gateway serves them.

    GET|HEAD /blobs/{id}   the bytes; Content-Type, Content-Length, ETag "<sha256 hex>", Accept-Ranges;
                           ``Range: bytes=a-b`` / ``a-`` / ``-n`` -> 206 with Content-Range, unsatisfiable
                           -> 416 (several ranges: the whole body, as RFC 9110 allows);
                           401 unauthorized (``blob_token`` set, no matching bearer token), 404 not_found

The token is checked before the id, so a caller without it learns nothing about which blobs exist.
"""

from __future__ import annotations

import hmac
import re

from aiohttp import web

from xstream_emulators.intake.model import Blob, IntakeError
from xstream_emulators.intake.web_common import STATE

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/blobs/{id}", get_blob, name="blobs.get")


async def get_blob(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.config.blob_token
    if token is not None and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                                     f"Bearer {token}".encode()):
        raise IntakeError(401, "unauthorized", "A valid bearer token is required.",
                          {"WWW-Authenticate": 'Bearer realm="intake"'})
    blob = state.blob(request.match_info["id"])
    headers = {"ETag": f'"{blob.sha256}"', "Accept-Ranges": "bytes"}
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return web.Response(status=304, headers=headers)
    if request.method == "GET":
        state.blob_downloads += 1
    wanted = _range(request.headers.get("Range"), len(blob.data))
    if wanted is None:
        return _body(blob, blob.data, 200, headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
    return _body(blob, blob.data[start:end + 1], 206, headers)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range; None for none (or one not understood: the whole
    body); 416 when it lies outside the body."""
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # the last n bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise IntakeError(416, "range_not_satisfiable", f"The blob has {size} bytes.",
                          {"Content-Range": f"bytes */{size}"})
    return start, end


def _body(blob: Blob, data: bytes, status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(body=data, status=status, content_type=blob.media_type, headers=headers)
