"""Documents: streamed upload from a body (one request, or Large File Upload for large files),
upsert by name and content hash, and streamed download (as a body, a chunk iterator or a file).

Paths (reference/opentext-api.md 5.2-5.4): ``POST /api/v2/nodes`` (multipart: ``body`` JSON part +
``file`` part; or ``body`` with the ``upload_key`` of a Large File Upload), ``POST
/api/v2/nodes/{id}/versions`` (multipart: flat fields + ``file``; or ``upload_key``),
``GET /api/v2/nodes/{id}/content`` and ``.../versions/{n}/content`` (raw bytes, Content-Disposition).

:meth:`DocumentsApi.upload_document` and :meth:`DocumentsApi.add_version` take a *body opener*
(:data:`xstream.content.BodyOpener`): a body streams once, and an upload may have to begin again
(the one repeat of a request after a fresh login, a Large File Upload session that expired), each
time from a body opened anew and closed when that attempt ends. The sha256 and size returned are
those of the bytes sent, computed while they streamed (:func:`xstream.content.verified`, which also
stops a body longer than it declared and fails one that is shorter or has another checksum). A
body with a declared size of at least the server's ``min_size`` goes through Large File Upload
(:mod:`.large_files`) when the server has it enabled; others in one request.

Lost answers: a part or a completion whose answer was lost is sent again (see :mod:`.large_files`).
Storing the completed upload by its key is sent again too, and a key that is used up by then ("File
could not be found within the upload directory", or the name taken for a create) proves the lost
attempt stored it: the document or version is read back (by name, or the latest version, with the
size sent) instead of stored twice. A one-request upload whose answer was lost raises AnswerLost:
nothing tells its effect apart from someone else's, so the caller decides (:meth:`upsert_document`
looks before it acts; a sink keeps what it stored per document).

Content Server exposes no content hash, so :meth:`upsert_document` answers "is this the same
document?" in two steps: if the caller knows the size and it differs from the latest version's
``file_size``, the content differs (no download); otherwise the latest version is downloaded
*streaming* and hashed, in bounded memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from xstream.clients.opentext.base import results_list, shape
from xstream.clients.opentext.categories import CategoriesApi
from xstream.clients.opentext.large_files import (
    KEY_USED_UP,
    SESSION_EXPIRED,
    LargeFilesApi,
    SessionExpired,
    Staged,
    pause_s,
    says,
)
from xstream.clients.opentext.models import (
    DOCUMENT,
    DocumentResult,
    DownloadResult,
    Node,
    UploadResult,
    Version,
)
from xstream.clients.opentext.nodes import created_id, version_entries
from xstream.clients.opentext.streams import CHUNK
from xstream.clients.opentext.transport import TARGET, ByteSource, Multipart, json_body
from xstream.clients.opentext.versions import VersionsApi
from xstream.content import Body, BodyOpener, ContentInfo, Digest, verified
from xstream.errors import AlreadyExists, SinkError, SinkRejected, SinkUnavailable
from xstream.http.errors import transport_errors

log = logging.getLogger(__name__)
MAX_RESTARTS = 2
"""How often an upload starts over after its Large File Upload session expired."""
STORE_RESENDS = 3
"""How often storing a completed upload by its key is sent again after a retriable failure."""
NodeVersion = tuple[int, int]
"""(node id, version number)."""


class Download:
    """An open download: metadata from the headers, the body as chunks (read it once)."""

    def __init__(self, operation: str, response: aiohttp.ClientResponse) -> None:
        self._operation = operation
        self._response = response
        disposition = response.content_disposition
        self.filename: str | None = disposition.filename if disposition is not None else None
        self.mime_type: str | None = response.content_type if response.headers.get("Content-Type") else None
        self.size: int | None = response.content_length
        """Content-Length, when the server sent one."""

    async def chunks(self, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """The body, ``chunk_size`` bytes at a time; a broken transfer is AnswerLost (a SinkUnavailable)."""
        async with transport_errors(TARGET, self._operation):
            async for chunk in self._response.content.iter_chunked(chunk_size):
                yield chunk


class DocumentBody:
    """A :class:`~xstream.content.Body` over an open download."""

    def __init__(self, info: ContentInfo, download: Download) -> None:
        self._info = info
        self._download = download

    @property
    def info(self) -> ContentInfo:
        return self._info

    def chunks(self) -> AsyncIterator[bytes]:
        return self._download.chunks()


class DocumentsApi(CategoriesApi, VersionsApi, LargeFilesApi):
    # --- upload from a body -----------------------------------------------------------------------

    async def upload_document(
        self, parent_id: int, name: str, open_body: BodyOpener, *, description: str = "",
        categories: Mapping[str, Any] | None = None, large_file: bool | None = None,
    ) -> UploadResult:
        """A new document ``name`` in ``parent_id`` with the body as its first version.

        The version's file name and MIME type are the body's; ``categories`` is the flat keyed map
        of ``roles.categories`` (``{"23300_2": "Invoice"}``). A taken name is AlreadyExists.
        ``large_file``: None chooses by the server's settings, True/False forces either way.
        """
        fields: dict[str, Any] = {"type": DOCUMENT, "parent_id": int(parent_id), "name": name,
                                  "description": description}
        if categories:
            fields["roles"] = {"categories": dict(categories)}

        async def one_request(source: ByteSource, info: ContentInfo) -> NodeVersion:
            node_id = await self.create_document(parent_id, name, source, size=info.size, mime_type=info.media_type,
                                                 description=description, categories=categories,
                                                 filename=info.name or name)
            return node_id, 1

        async def by_key(staged: Staged) -> NodeVersion:
            async def send() -> NodeVersion:
                payload = await self._call("documents.create", "POST", "/api/v2/nodes",
                                           data=json_body(fields | {"upload_key": staged.key}))
                return shape("documents.create", lambda: created_id(payload)), 1

            return await self._store_by_key("documents.create", send, lambda: self._created_with(parent_id, name, staged))

        return await self._upload(open_body, large_file, one_request, by_key)

    async def add_version(
        self, node_id: int, open_body: BodyOpener, *, description: str = "", add_major_version: bool = False,
        large_file: bool | None = None, categories: Mapping[str, Any] | None = None,
    ) -> UploadResult:
        """The body as a new version of document ``node_id`` (file name and MIME type the body's).

        ``categories``: the flat keyed map of ``roles.categories`` set with the version, in the same
        request (say, the source version it stands for), so no second call is needed."""
        fields = {"description": description[:255]} if description else {}
        if add_major_version:
            fields["add_major_version"] = "true"
        if categories:
            fields["roles"] = orjson.dumps({"categories": dict(categories)}).decode()

        async def one_request(source: ByteSource, info: ContentInfo) -> NodeVersion:
            version = await self._post_version(node_id, source, fields, filename=info.name or "file",
                                               size=info.size, mime_type=info.media_type)
            return int(node_id), version.version_number

        async def by_key(staged: Staged) -> NodeVersion:
            async def send() -> NodeVersion:
                payload = await self._call("documents.add_version", "POST", f"/api/v2/nodes/{int(node_id)}/versions",
                                           data=fields | {"upload_key": staged.key})
                return int(node_id), (await self._added_version(node_id, payload)).version_number

            return await self._store_by_key("documents.add_version", send, lambda: self._version_with(node_id, staged))

        return await self._upload(open_body, large_file, one_request, by_key)

    async def _upload(self, open_body: BodyOpener, large_file: bool | None,
                      one_request: Callable[[ByteSource, ContentInfo], Awaitable[NodeVersion]],
                      by_key: Callable[[Staged], Awaitable[NodeVersion]]) -> UploadResult:
        restarts = 0
        while True:
            try:
                async with open_body() as body:
                    if not await self._in_parts(body.info, large_file):
                        return await self._in_one_request(open_body, body, one_request)
                    staged = await self._stage(body)
            except SessionExpired as exc:  # caught outside the body: it is closed before it is opened again
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise SinkUnavailable(f"documents.upload: the Large File Upload session expired {restarts} times "
                                          f"before the upload was complete ({exc})", target=TARGET) from exc
                log.info("opentext: the upload session expired (%s); starting the upload again", exc)
                continue
            try:
                node_id, version = await by_key(staged)
            except Exception:  # e.g. the name is taken: the completed upload is of no use any more
                await self._cancel_quietly(staged.key)
                raise
            return UploadResult(node_id=node_id, version_number=version, size=staged.size, sha256=staged.sha256,
                                large_file=True)

    async def _in_parts(self, info: ContentInfo, large_file: bool | None) -> bool:
        if large_file is not None:
            if large_file and info.size is None:
                raise SinkRejected(f"documents.upload: {info.name}: Large File Upload needs the size of the body",
                                   target=TARGET)
            return large_file
        return info.size is not None and (await self.large_file_settings()).takes(info.size)

    async def _in_one_request(self, open_body: BodyOpener, body: Body,
                              one_request: Callable[[ByteSource, ContentInfo], Awaitable[NodeVersion]]) -> UploadResult:
        """The open body is the first attempt's; a repeat (after a fresh login) opens it again."""
        digests: list[Digest] = []

        def source() -> AsyncIterable[bytes]:
            digests.append(Digest())
            if len(digests) == 1:
                return verified(body.chunks(), body.info, digests[-1])
            return _reopened(open_body, digests[-1])

        node_id, version = await one_request(source, body.info)
        sent = digests[-1]
        if not sent.sha256:  # pragma: no cover - a server that stored a body it did not read to the end
            raise SinkUnavailable("documents.upload: answered before the whole body was sent", target=TARGET)
        return UploadResult(node_id=node_id, version_number=version, size=sent.size, sha256=sent.sha256)

    async def _store_by_key(self, operation: str, send: Callable[[], Awaitable[NodeVersion]],
                            stored: Callable[[], Awaitable[NodeVersion | None]]) -> NodeVersion:
        """Store a completed upload by its key; after a failure that may have arrived, send again,
        and read a used-up key (or a taken name) as "the earlier attempt stored it"."""
        try:
            return await send()
        except SinkError as exc:
            if not exc.retriable:
                raise
            first: SinkError = exc
        for resend in range(1, STORE_RESENDS + 1):
            await asyncio.sleep(pause_s(first, resend))
            try:
                return await send()
            except (AlreadyExists, SinkRejected) as exc:
                if not (isinstance(exc, AlreadyExists) or says(exc, KEY_USED_UP)):
                    raise
                found = await stored()
                if found is None:
                    raise SinkUnavailable(f"{operation}: the upload key is used up but the upload is not where it "
                                          f"was to be stored ({exc})", target=TARGET) from exc
                log.info("opentext: %s: the answer was lost, the upload was stored (node %s, version %s)",
                         operation, *found)
                return found
            except SinkError as exc:
                if not exc.retriable or says(exc, SESSION_EXPIRED):
                    raise
                first = exc
        raise first

    async def _created_with(self, parent_id: int, name: str, staged: Staged) -> NodeVersion | None:
        node = await self.find_child(parent_id, name)
        if node is None or node.type != DOCUMENT:
            return None
        latest = await self.latest_version(node.id)
        return (node.id, latest.version_number) if latest.file_size == staged.size else None

    async def _version_with(self, node_id: int, staged: Staged) -> NodeVersion | None:
        latest = await self.latest_version(node_id)
        if latest.file_size != staged.size or (staged.info.name and latest.file_name != staged.info.name):
            return None
        return int(node_id), latest.version_number

    # --- upsert by name and content hash ----------------------------------------------------------

    async def upsert_document(
        self, parent_id: int, name: str, open_body: BodyOpener, *, sha256: str, size: int | None = None,
        categories: Mapping[str, Mapping[str, Any]] | None = None, description: str = "",
    ) -> DocumentResult:
        """Upload-or-add-version by name and content hash; idempotent for the same name and content.

        ``sha256`` (and ``size``, when known) describe the body before it is opened, e.g. from the
        source's attachment record. Absent -> created; same name with the same content -> "unchanged",
        the body is never opened; different content -> a new version. A concurrent creator
        (AlreadyExists on create) is resolved by looking the document up again. ``categories`` (by
        name, see :meth:`update_categories`) are set afterwards in every case, writing only values
        that differ; if that step fails, a retry finds the document "unchanged" and completes it.
        """
        existing = await self.find_child(parent_id, name)
        result: DocumentResult | None = None
        if existing is None:
            try:
                uploaded = await self.upload_document(parent_id, name, open_body, description=description)
                _check_sent(uploaded, sha256, name)
                result = DocumentResult(node_id=uploaded.node_id, version_number=uploaded.version_number,
                                        action="created")
            except AlreadyExists:
                existing = await self.find_child(parent_id, name)
                if existing is None:
                    raise
        if result is None:
            assert existing is not None
            result = await self._sync_existing(existing, open_body, size=size, sha256=sha256)
        if categories:
            await self.update_categories(result.node_id, categories)
        return result

    async def _sync_existing(self, node: Node, open_body: BodyOpener, *, size: int | None,
                             sha256: str) -> DocumentResult:
        if node.type != DOCUMENT:
            raise AlreadyExists(f"documents.upload: the name {node.name!r} is taken by a {node.type_name or node.type} "
                                f"(node {node.id})", target=TARGET)
        versions = await self.versions(node.id)
        latest = versions[-1] if versions else None
        if latest is not None and await self._same_content(node.id, latest, size=size, sha256=sha256):
            return DocumentResult(node_id=node.id, version_number=latest.version_number, action="unchanged")
        uploaded = await self.add_version(node.id, open_body)
        _check_sent(uploaded, sha256, node.name)
        return DocumentResult(node_id=node.id, version_number=uploaded.version_number, action="version_added")

    async def _same_content(self, node_id: int, version: Version, *, size: int | None, sha256: str) -> bool:
        if size is not None and version.file_size is not None and size != version.file_size:
            return False
        digest = hashlib.sha256()
        async with self.open_download(node_id, version=version.version_number) as download:
            async for chunk in download.chunks():
                digest.update(chunk)
        return digest.hexdigest() == sha256.strip().lower()

    # --- one request ------------------------------------------------------------------------------

    async def create_document(
        self, parent_id: int, name: str, source: ByteSource, *, size: int | None = None,
        mime_type: str = "application/octet-stream", description: str = "",
        categories: Mapping[str, Any] | None = None, filename: str | None = None,
    ) -> int:
        """POST /api/v2/nodes as multipart (``body`` JSON + streamed ``file``); a taken name is AlreadyExists.

        The one-request upload under :meth:`upload_document`, from a zero-argument source factory
        (called once per attempt). ``categories`` is the flat keyed map of ``roles.categories``
        (``{"23300_2": "Invoice"}``); ``filename`` (default ``name``) is the version's file name.
        """
        body: dict[str, Any] = {"type": DOCUMENT, "parent_id": int(parent_id), "name": name,
                                "description": description}
        if categories:
            body["roles"] = {"categories": dict(categories)}
        upload = Multipart(fields=json_body(body), source=source, filename=filename or name, content_type=mime_type,
                           size=size)
        payload = await self._call("documents.create", "POST", "/api/v2/nodes", data=upload)
        return shape("documents.create", lambda: created_id(payload))

    async def _post_version(self, node_id: int, source: ByteSource, fields: Mapping[str, str], *, filename: str,
                            size: int | None, mime_type: str) -> Version:
        """POST /api/v2/nodes/{id}/versions as multipart (flat fields + streamed ``file``)."""
        upload = Multipart(fields=fields, source=source, filename=filename, content_type=mime_type, size=size)
        payload = await self._call("documents.add_version", "POST", f"/api/v2/nodes/{int(node_id)}/versions",
                                   data=upload)
        return await self._added_version(node_id, payload)

    async def _added_version(self, node_id: int, payload: Any) -> Version:
        try:
            found = [v for r in results_list(payload) for v in version_entries(r)]
        except (KeyError, TypeError, ValueError):
            found = []  # the answer's nesting differs between releases; ask for the list instead
        if found:
            return max(found, key=lambda v: v.version_number)
        versions = await self.versions(node_id)
        return shape("documents.add_version", lambda: versions[-1])

    # --- download ---------------------------------------------------------------------------------

    @asynccontextmanager
    async def open_document(self, node_id: int, version: int | None = None) -> AsyncIterator[Body]:
        """A document version as a :class:`~xstream.content.Body` (the ``ContentSource`` side of
        OpenText): its name, MIME type and size from the version's metadata, its chunks streamed
        from the download of that very version (the latest when ``version`` is None, fixed before
        the download starts, so a version added meanwhile does not mix in).

            async with client.open_document(node_id) as body:
                async for chunk in verified(body.chunks(), body.info, digest): ...
        """
        meta = await (self.latest_version(node_id) if version is None else self.version(node_id, version))
        async with self.open_download(node_id, version=meta.version_number) as download:
            yield DocumentBody(ContentInfo(name=meta.file_name or download.filename or str(node_id),
                                           media_type=meta.mime_type or download.mime_type or "application/octet-stream",
                                           size=meta.file_size), download)

    @asynccontextmanager
    async def open_download(self, node_id: int, *, version: int | None = None) -> AsyncIterator[Download]:
        """Stream a document's content: ``async with client.open_download(id) as d: async for c in d.chunks()``."""
        path = f"/api/v2/nodes/{int(node_id)}" + (f"/versions/{int(version)}" if version is not None else "")
        async with self._transport.open("documents.download", "GET", path + "/content") as response:
            yield Download("documents.download", response)

    async def iter_content(self, node_id: int, *, version: int | None = None,
                           chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """The content as an async iterator of chunks (close it early with ``aclose()`` to abandon)."""
        async with self.open_download(node_id, version=version) as download:
            async for chunk in download.chunks(chunk_size):
                yield chunk

    async def download_to(self, node_id: int, target: str | Path, *, version: int | None = None) -> DownloadResult:
        """Download into ``target``: a file path, or an existing directory (then the file is named after
        Content-Disposition, else the node id). Written to a temporary file first and renamed when
        complete, so an interrupted download leaves no partial file behind."""
        target = Path(target)
        async with self.open_download(node_id, version=version) as download:
            filename = download.filename
            path = target / (_safe_name(filename) or str(node_id)) if target.is_dir() else target
            digest, size = hashlib.sha256(), 0
            fd, tmp = tempfile.mkstemp(prefix=".download-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    async for chunk in download.chunks():
                        digest.update(chunk)
                        size += len(chunk)
                        await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(os.replace, tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
            return DownloadResult(path=path, filename=filename, mime_type=download.mime_type, size=size,
                                  sha256=digest.hexdigest())


def _check_sent(uploaded: UploadResult, sha256: str | None, name: str) -> None:
    if sha256 and uploaded.sha256 != sha256.strip().lower():
        # NodeVersion as sent; the next upload of the right content compares and adds a version.
        log.warning("opentext: uploaded %r with sha256 %s, but the caller announced %s (source changed?)",
                    name, uploaded.sha256, sha256)


async def _reopened(open_body: BodyOpener, digest: Digest) -> AsyncIterator[bytes]:
    async with open_body() as body:
        async for chunk in verified(body.chunks(), body.info, digest):
            yield chunk


def _safe_name(name: str | None) -> str | None:
    """A server-given file name reduced to a plain name (no directories, no parent references)."""
    if not name:
        return None
    base = re.sub(r"[\x00-\x1f\x7f]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return None if base in ("", ".", "..") else base
