"""Receiving a write's body before its Idempotency-Key is claimed (aiohttp side).

Each keyed operation has a *receiver*: it reads the body the way the operation takes it and returns
what the request is fingerprinted by (with method and path, see ``idempotency.fingerprint``):

- :func:`json_body`: the decoded JSON (records, approvals), kept as ``request[BODY]``;
- :func:`raw_body`: a raw streamed body (SAP ``AttachmentContentSet`` upload) spooled to disk in
  chunks, ``request[SPOOL]``; fingerprinted by its SHA-256 and size and the headers that say what it
  is (``Slug``, ``Content-Type``, the business object, a new version's document, ``X-Document-Type``);
- :func:`content_version_body`: Salesforce's ``ContentVersion`` create, either multipart/form-data
  (part ``entity_content`` JSON first, then part ``VersionData`` spooled like a raw body) or JSON (a
  link); fingerprinted by the entity content and the body's SHA-256;
- :func:`query_only`: no body (SAP function imports, deletes); fingerprinted by the query.

A body is never held in memory whole; a spool nobody committed is discarded when the call ends
(:func:`discard`), and a refused call's unread body is drained first (:func:`drain`) so the client
reads the refusal instead of a broken pipe.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
from aiohttp import BodyPartReader, ClientPayloadError, web

from xstream_emulators.erp.content import CHUNK_SIZE, Spool
from xstream_emulators.erp.files import SalesforceError
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.web_common import BODY, STATE, read_json

Receiver = Callable[[web.Request], Awaitable[Any]]
SPOOL = web.RequestKey("erp_spool", Spool)
PART_TYPE = web.RequestKey("erp_part_type", str)
"""The Content-Type of a multipart file part (Salesforce ``VersionData``)."""
SAP_UPLOAD_HEADERS = ("Slug", "Content-Type", "BusinessObjectTypeName", "LinkedSAPObjectKey",
                      "DocumentInfoRecordDocType", "DocumentInfoRecordDocNumber", "DocumentInfoRecordDocPart",
                      "X-Document-Type")
ENTITY_CONTENT_LIMIT = 64 * 1024


async def json_body(request: web.Request) -> Any:
    body = await read_json(request)
    request[BODY] = body
    return body


async def query_only(request: web.Request) -> Any:
    return dict(request.query)


async def raw_body(request: web.Request) -> Any:
    spool = _spool(request)
    with _complete():
        async for chunk in request.content.iter_chunked(CHUNK_SIZE):
            spool.write(chunk)
    blob = spool.finish()
    return {"sha256": blob.sha256, "size": blob.size,
            "headers": {name: request.headers.get(name) for name in SAP_UPLOAD_HEADERS}}


async def content_version_body(request: web.Request) -> Any:
    if request.content_type == "application/json":
        return await json_body(request)
    if request.content_type != "multipart/form-data":
        raise SalesforceError(415, "UNSUPPORTED_MEDIA_TYPE", f"Content type {request.content_type} is not "
                              "supported: send multipart/form-data (entity_content, VersionData) or JSON.")
    with _complete():
        return await _multipart(request)


async def _multipart(request: web.Request) -> Any:
    reader = await request.multipart()
    entity: Any = None
    spool: Spool | None = None
    filename: str | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name not in ("entity_content", "VersionData"):
            raise SalesforceError(400, "INVALID_MULTIPART_REQUEST", "Only the parts entity_content and VersionData "
                                  "are accepted.")
        if part.name == "entity_content":
            entity = _entity_content(await _bounded(part, ENTITY_CONTENT_LIMIT))
            continue
        if entity is None or spool is not None:
            raise SalesforceError(400, "INVALID_MULTIPART_REQUEST", "The entity_content part must come first, "
                                  "followed by one VersionData part.")
        spool = _spool(request)
        filename = part.filename
        request[PART_TYPE] = part.headers.get("Content-Type", "application/octet-stream")
        while chunk := await part.read_chunk(CHUNK_SIZE):
            spool.write(chunk)
        spool.finish()
    if entity is None:
        raise SalesforceError(400, "INVALID_MULTIPART_REQUEST", "The entity_content part is missing.")
    request[BODY] = entity
    blob = spool.blob if spool is not None else None
    return {"entity_content": entity, "filename": filename, "sha256": blob.sha256 if blob else None}


def discard(request: web.Request) -> None:
    spool = request.get(SPOOL)
    if spool is not None:
        spool.discard()


async def drain(request: web.Request) -> None:
    """Read and drop what is left of the body (bounded memory), so a refusal is read, not a reset."""
    if request.body_exists:
        with contextlib.suppress(Exception):
            while await request.content.readany():
                pass


@contextlib.contextmanager
def _complete() -> Iterator[None]:
    """A body cut off by the client (reset, disconnect) is refused, quietly: nobody reads the answer."""
    try:
        yield
    except (ConnectionError, ClientPayloadError) as exc:
        raise ApiError(400, "incomplete_body", f"The request body ended before it was complete: {exc}") from None


def _spool(request: web.Request) -> Spool:
    spool = request.app[STATE].content.spool()
    request[SPOOL] = spool
    return spool


async def _bounded(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK_SIZE):
        data += chunk
        if len(data) > limit:
            raise SalesforceError(400, "JSON_PARSER_ERROR", f"entity_content is larger than {limit} bytes.")
    return bytes(data)


def _entity_content(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SalesforceError(400, "JSON_PARSER_ERROR", f"entity_content is not JSON: {exc}") from None
