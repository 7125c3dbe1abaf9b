"""The document sink (flow F2): streams bodies between the source systems and OpenText, and keeps
the governed copy's state, so that nothing is stored twice and nothing is lost.

Per command kind:

- ``store_document``: the source's body into its business object's workspace, streamed (bounded
  memory; Large File Upload above the server's threshold) and checked against the size and checksum
  the notice declared. A new document is one ``POST /api/v2/nodes`` with its category values; a
  new source version becomes a new OpenText version (``POST .../versions`` with the new Source
  Version) unless its bytes are the same as the latest stored (same source checksum, or same
  sha256: then nothing is written). A replay or an older source version costs no call at all.
- ``mark_document``: the source deleted its document; the governed copy stays and says so.
- ``publish_document``: a workspace document to the source record, as a copy (a new attachment, or
  the next version of the copy made before) or a link (the node's copy link).
- ``lock_version``: the version that reached its status is locked, and optionally linked back.
- ``set_document_attributes``: a decision made in a source shows on the document.

Crash and lost-answer safety: before an upload starts, the sink makes a *pending* mark durable in
its state (:mod:`.document_state`). Whoever retries the same command and finds the mark asks
OpenText first whether the upload arrived (the document's Source Document Id and Source Version,
set in the same request as the bytes); only if not is it sent again. So a SIGKILL in the middle of a
200 MiB transfer leaves no half document (an upload that never completed stores nothing) and its
retry no second version. Caches (workspace per business object, folder per path, category keys)
are only caches: a miss costs a lookup, never a duplicate.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import PurePosixPath
from typing import Any, TypeVar

from xstream.clients.opentext import OpenTextClient
from xstream.clients.opentext.category_meta import find_category, values_by_name
from xstream.clients.opentext.models import DOCUMENT, UploadResult
from xstream.content import Body, ContentInfo, ContentMismatch, Digest, verified
from xstream.errors import AlreadyExists, DeadLetterReason, SinkError, SinkUnavailable, TargetNotFound
from xstream.model.commands import DocumentLink
from xstream.model.documents import (
    AnyDocumentCommand,
    LockVersion,
    MarkDocument,
    PublishDocument,
    SetDocumentAttributes,
    StoreDocument,
)
from xstream.model.results import SinkResult
from xstream.model.status import DownstreamRecord
from xstream.observability import Metrics
from xstream.settings import DocumentSettings, OpenTextSettings
from xstream.sinks.document_sources import SourceDocumentGone, Sources
from xstream.sinks.document_state import DocumentEntry, DocumentState, PendingUpload, Published, StoredVersion
from xstream.sinks.results import result_of
from xstream.streams.state import PartitionedStore
from xstream.transform.document_rules import DocumentAttributes
from xstream.transform.documents import version_categories
from xstream.transform.opentext_requests import create_categories

log = logging.getLogger(__name__)
CACHED = 10_000
"""Entries per cache (workspaces by business object, folders by path)."""
KEPT_PUBLICATIONS = 32
WORKSPACE_POLL_S = 2.0
"""How often a document waiting for its workspace looks again."""
K = TypeVar("K")
V = TypeVar("V")


class DocumentSink:
    name = "documents"

    def __init__(self, *, opentext: OpenTextClient, sources: Sources, state: DocumentState,
                 settings: DocumentSettings, opentext_settings: OpenTextSettings,
                 attributes: DocumentAttributes, metrics: Metrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = opentext
        self._metrics = metrics or Metrics()
        self._sources = sources
        self._state = state
        self._settings = settings
        self._opentext_settings = opentext_settings
        self._attributes = attributes
        self._clock = clock
        self._workspaces: OrderedDict[str, int] = OrderedDict()
        self._folders: OrderedDict[tuple[int, str], int] = OrderedDict()
        self._waiting: dict[str, float] = {}
        """Idempotency key -> when its business object was first found without a workspace."""

    @property
    def state(self) -> PartitionedStore[DocumentEntry]:
        """What was stored per document: loaded by the runner per partition before its first command."""
        return self._state.store

    async def start(self) -> None:
        try:
            await self._client.login()
        except SinkUnavailable as exc:
            log.warning("OpenText unavailable at start; will log in on first use", extra={"error": str(exc)})

    async def close(self) -> None:
        await self._client.close()
        await self._sources.close()

    async def apply(self, command: AnyDocumentCommand) -> SinkResult:
        try:
            if isinstance(command, StoreDocument):
                return await self._store(command)
            if isinstance(command, MarkDocument):
                return await self._mark(command)
            if isinstance(command, PublishDocument):
                return await self._publish(command)
            if isinstance(command, LockVersion):
                return await self._lock(command)
            return await self._set_attributes(command)
        except Exception as exc:  # noqa: BLE001 - classified once; a poison command must not crash-loop the worker
            return self._failed(exc, command)

    # --- store ---------------------------------------------------------------------------------------

    async def _store(self, command: StoreDocument) -> SinkResult:
        entry = self._state.get(command.document_key)
        if command.idempotency_key in entry.keys or entry.holds_source_version(command.source.version):
            return SinkResult.already_applied(document=self._link(entry))
        if entry.pending is not None:  # an earlier attempt (this command's, or another's) may have stored it
            found = await self._arrived(command, entry)
            if found is not None:
                log.info("a lost attempt had stored the document", extra={"document": command.document_key,
                                                                           "node_id": found.node_id})
                return await self._stored(command, entry, found, name=entry.pending.name or entry.name or command.name,
                                          folder=entry.pending.folder_id or entry.folder_id, recovered=True)
        if entry.node_id is not None and entry.folder_id is not None:
            folder = entry.folder_id  # the governed copy is known: no workspace or folder lookup
        else:
            workspace = await self._workspace(command)
            if workspace is None:
                return self._no_workspace(command)
            self._waiting.pop(command.idempotency_key, None)
            folder = await self._folder(workspace, command.folder_path)
        categories = await self._keyed(folder, command.categories)
        if entry.node_id is None:
            return await self._create(command, entry, folder, categories, command.name)
        return await self._new_version(command, entry, folder, categories)

    async def _create(self, command: StoreDocument, entry: DocumentEntry, folder: int, categories: dict[str, Any],
                      name: str, *, beside: bool = False) -> SinkResult:
        await self._pending(entry, PendingUpload(idempotency_key=command.idempotency_key, kind="create",
                                                 folder_id=folder, name=name))
        try:
            uploaded = await self._client.upload_document(folder, name, self._opener(command),
                                                          description=_provenance(command), categories=categories)
        except TargetNotFound as exc:  # the folder (or the workspace) went away since it was cached
            self._forget(command)
            raise SinkUnavailable(f"folder {folder} is gone; looking the workspace and folder up again ({exc})",
                                  target="opentext") from exc
        except AlreadyExists:
            existing = await self._client.find_child(folder, name)
            if existing is None:
                raise SinkUnavailable(f"the name {name!r} is taken in folder {folder} but nothing is found by it "
                                      "(a concurrent delete?)", target="opentext") from None
            source_id, source_version = await self._source_identity(existing.id)
            if existing.type == DOCUMENT and source_id == command.source.document_id:
                return await self._adopt(command, entry, existing.id, source_version, folder, categories, name)
            if beside:
                raise
            # another document holds the name: this one goes beside it, named after its source id
            return await self._create(command, entry, folder, categories, _beside(name, command.source.document_id),
                                      beside=True)
        return await self._stored(command, entry, uploaded, name=name, folder=folder, created=True)

    async def _adopt(self, command: StoreDocument, entry: DocumentEntry, node_id: int, source_version: str | None,
                     folder: int, categories: dict[str, Any], name: str) -> SinkResult:
        """Our document, stored before the state knew it (the state was lost, or another deployment stored
        it): its latest version (hashed once) becomes what is known, so an older or equal source version
        adds nothing and a newer one is compared with it like any other."""
        hashed = await self._hashed(node_id)
        held = int(source_version) if source_version is not None and source_version.isdecimal() else 0
        adopted = entry.model_copy(update={"node_id": node_id, "name": name, "folder_id": folder, "versions": (
            StoredVersion(version=hashed.version_number, source_version=held, size=hashed.size,
                          sha256=hashed.sha256),)})
        if held == command.source.version:  # this very version: it arrived, the state never said so
            return await self._stored(command, adopted, hashed, name=name, folder=folder, recovered=True)
        if held > command.source.version:
            await self._state.put(adopted.with_key(command.idempotency_key))
            return SinkResult.already_applied(document=self._link(adopted))
        return await self._new_version(command, adopted, folder, categories)

    async def _new_version(self, command: StoreDocument, entry: DocumentEntry, folder: int,
                           categories: dict[str, Any]) -> SinkResult:
        assert entry.node_id is not None
        latest = entry.latest
        if latest is not None and await self._same_content(command, latest):
            same = latest.model_copy(update={"source_version": command.source.version})
            await self._state.put(entry.with_version(same, node_id=entry.node_id, name=entry.name or command.name,
                                                     folder_id=folder, key=command.idempotency_key))
            self._metrics.documents.labels("same_content").inc()
            log.info("same content as the stored version: nothing to add", extra={
                "document": command.document_key, "node_id": entry.node_id, "version": latest.version})
            return SinkResult.already_applied(document=self._link(entry))
        await self._pending(entry, PendingUpload(idempotency_key=command.idempotency_key, kind="version"))
        try:
            uploaded = await self._client.add_version(entry.node_id, self._opener(command),
                                                      description=_provenance(command),
                                                      categories=await self._version_keys(folder, command))
        except TargetNotFound:  # the governed copy was deleted in OpenText: store it anew
            log.warning("the stored document is gone from OpenText; creating it again",
                        extra={"document": command.document_key, "node_id": entry.node_id})
            fresh = DocumentEntry(document_key=entry.document_key, keys=entry.keys)
            return await self._create(command, fresh, folder, categories, entry.name or command.name)
        return await self._stored(command, entry, uploaded, name=entry.name or command.name, folder=folder)

    async def _same_content(self, command: StoreDocument, latest: StoredVersion) -> bool:
        """Is the source's body the stored latest version? By the source checksum when both are known,
        by size when it differs, else by the sha256 of one streamed pass over the source body."""
        declared = command.checksum
        if declared is not None and latest.source_checksum is not None:
            return declared.hex.lower() == latest.source_checksum.lower()
        if declared is not None and declared.algorithm == "sha256":
            return declared.hex.lower() == latest.sha256
        if command.size is not None and command.size != latest.size:
            return False
        digest = Digest()
        async with self._opener(command)() as body:
            async for _ in verified(body.chunks(), body.info, digest):
                pass
        return digest.sha256 == latest.sha256

    async def _arrived(self, command: StoreDocument, entry: DocumentEntry) -> UploadResult | None:
        """Did the pending upload of this command arrive? Its node carries the command's source id
        and version in the same request as the bytes, so they are there only if the bytes are."""
        pending = entry.pending
        assert pending is not None
        node_id = entry.node_id
        try:
            if pending.kind == "create":
                if pending.folder_id is None or pending.name is None:
                    return None
                node = await self._client.find_child(pending.folder_id, pending.name)
                if node is None or node.type != DOCUMENT:
                    return None
                node_id = node.id
            if node_id is None:
                return None
            source_id, source_version = await self._source_identity(node_id)
        except TargetNotFound:  # the folder or the document is gone since: nothing of it is there
            self._forget(command)
            return None
        if source_id != command.source.document_id or source_version != str(command.source.version):
            return None
        return await self._hashed(node_id)

    async def _stored(self, command: StoreDocument, entry: DocumentEntry, uploaded: UploadResult, *, name: str,
                      folder: int | None, created: bool = False, recovered: bool = False) -> SinkResult:
        action = "recovered" if recovered else "created" if created else "version"
        declared = command.checksum
        stored = StoredVersion(version=uploaded.version_number, source_version=command.source.version,
                               size=uploaded.size, sha256=uploaded.sha256,
                               source_checksum=declared.hex.lower() if declared is not None
                               and declared.algorithm != "sha256" else None)
        kept = entry.with_version(stored, node_id=uploaded.node_id, name=name, folder_id=folder,
                                  key=command.idempotency_key)
        await self._state.put(kept)  # durable before the command is acknowledged (the runner waits)
        self._metrics.documents.labels(action).inc()
        if action != "recovered":
            self._metrics.document_bytes.labels("large_file" if uploaded.large_file else "single").inc(uploaded.size)
        log.info("document stored", extra={"document": command.document_key, "node_id": uploaded.node_id,
                                           "version": uploaded.version_number, "size": uploaded.size,
                                           "large_file": uploaded.large_file, "new_document": created})
        return SinkResult.applied(document=self._link(kept))

    # --- mark, attributes, lock ------------------------------------------------------------------------

    async def _mark(self, command: MarkDocument) -> SinkResult:
        entry = self._state.get(command.document_key)
        if command.idempotency_key in entry.keys:
            return SinkResult.already_applied(document=self._link(entry))
        if entry.node_id is None:
            log.info("the source deleted a document that has no governed copy", extra={
                "document": command.document_key})
            return SinkResult.already_applied()
        await self._client.update_categories(entry.node_id, _without_empty(command.categories))
        kept = entry.with_key(command.idempotency_key, marked=True)
        await self._state.put(kept)
        self._metrics.documents.labels("marked").inc()
        return SinkResult.applied(document=self._link(kept))

    async def _set_attributes(self, command: SetDocumentAttributes) -> SinkResult:
        entry = self._state.get(command.document_key)
        if command.idempotency_key in entry.keys:
            return SinkResult.already_applied(document=self._node_link(command.node_id))
        wrote = await self._client.update_categories(command.node_id, _without_empty(command.categories))
        await self._state.put(entry.with_key(command.idempotency_key, node_id=entry.node_id or command.node_id))
        self._metrics.documents.labels("attributes").inc()
        link = self._node_link(command.node_id)
        return SinkResult.applied(document=link) if wrote else SinkResult.already_applied(document=link)

    async def _lock(self, command: LockVersion) -> SinkResult:
        entry = self._state.get(command.document_key)
        if command.idempotency_key in entry.keys:
            return SinkResult.already_applied(document=self._node_link(command.node_id, command.version))
        await self._client.lock_version(command.node_id, command.version)  # locking a locked version is a no-op
        entry = entry.model_copy(update={"node_id": entry.node_id or command.node_id,
                                         "locked": tuple(sorted({*entry.locked, command.version}))})
        await self._state.put(entry)  # the lock is known even when its link cannot be made
        published = dict(entry.published)
        downstream = None
        if command.link_to is not None:
            downstream, published = await self._published(command.link_to, entry)
        kept = entry.with_key(command.idempotency_key, node_id=entry.node_id or command.node_id,
                              locked=tuple(sorted({*entry.locked, command.version})), published=published)
        await self._state.put(kept)
        self._metrics.documents.labels("locked").inc()
        return SinkResult.applied(document=self._node_link(command.node_id, command.version), downstream=downstream)

    # --- publish ----------------------------------------------------------------------------------------

    async def _publish(self, command: PublishDocument) -> SinkResult:
        entry = self._state.get(command.document_key)
        known = entry.published.get(command.idempotency_key)
        if known is not None:
            return SinkResult.already_applied(document=self._node_link(command.node_id, known.version),
                                              downstream=_record(command, known.ref))
        downstream, published = await self._published(command, entry)
        await self._state.put(entry.with_key(command.idempotency_key, node_id=entry.node_id or command.node_id,
                                             published=published))
        return SinkResult.applied(document=self._node_link(command.node_id, command.version), downstream=downstream)

    async def _published(self, command: PublishDocument,
                         entry: DocumentEntry) -> tuple[DownstreamRecord, dict[str, Published]]:
        """Publish (a link, or a copy) and say what the source calls it; the publications kept after."""
        published = dict(entry.published)
        known = published.get(command.idempotency_key)
        if known is not None:
            return _record(command, known.ref), published
        if command.mode == "link":
            ref = await self._sources.publish_link(command, await self._client.copy_link(command.node_id))
            self._metrics.documents.labels("link").inc()
            published[command.idempotency_key] = Published(ref=ref.ref, target=command.target,
                                                           record=command.record.bo_key)
            return _record(command, ref.ref), _bounded(published)
        version = command.version or (await self._client.latest_version(command.node_id)).version_number
        previous = _last_copy(entry, command)
        if previous is not None and previous.sha256 is not None:
            if (await self._hashed(command.node_id, version)).sha256 == previous.sha256:
                published[command.idempotency_key] = previous.model_copy(update={"version": version})
                return _record(command, previous.ref), _bounded(published)
        digest = Digest()
        async with self._client.open_document(command.node_id, version) as body:
            ref = await self._sources.publish_copy(command, _Hashing(body, digest),
                                                   previous.ref if previous is not None else None)
        self._metrics.documents.labels("copy").inc()
        published[command.idempotency_key] = Published(ref=ref.ref, target=command.target,
                                                       record=command.record.bo_key, version=version,
                                                       sha256=digest.sha256 or None)
        return _record(command, ref.ref), _bounded(published)

    # --- lookups ---------------------------------------------------------------------------------------

    async def _workspace(self, command: StoreDocument) -> int | None:
        bo = command.business_object
        cached = _get(self._workspaces, bo.kafka_key)
        if cached is not None:
            return cached
        found = await self._client.find_workspace(bo)
        if found is None:
            return None
        _put(self._workspaces, bo.kafka_key, found.node_id)
        return found.node_id

    def _forget(self, command: StoreDocument) -> None:
        workspace = self._workspaces.pop(command.business_object.kafka_key, None)
        for key in [k for k in self._folders if k[0] == workspace]:
            del self._folders[key]

    def _no_workspace(self, command: StoreDocument) -> SinkResult:
        """The workspace may still be on its way (flow F1 creates it from the same source): wait for it,
        up to ``workspace_wait_s``, then dead-letter the document (re-drivable once it exists)."""
        now = self._clock()
        first = self._waiting.setdefault(command.idempotency_key, now)
        bo = command.business_object.kafka_key
        if now - first >= self._settings.workspace_wait_s:
            self._waiting.pop(command.idempotency_key, None)
            return SinkResult.rejected(DeadLetterReason.UNKNOWN_BUSINESS_OBJECT,
                                       f"no workspace in OpenText for business object {bo} (waited "
                                       f"{self._settings.workspace_wait_s:g} s): {command.name} was not stored")
        return SinkResult.waiting(f"no workspace for business object {bo} yet; {command.name} waits for it",
                                  retry_after=WORKSPACE_POLL_S)

    async def _folder(self, workspace: int, path: str) -> int:
        parts = [part for part in path.split("/") if part.strip()]
        if not parts:
            return workspace
        key = (workspace, "/".join(parts))
        cached = _get(self._folders, key)
        if cached is not None:
            return cached
        folder = await self._client.ensure_folder_path(workspace, parts)
        _put(self._folders, key, folder)
        return folder

    async def _keyed(self, parent: int, categories: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Category values by name -> the flat keyed ``roles.categories`` of a new document or version."""
        given = _without_empty(categories)
        if not given:
            return {}
        keys = await self._client.node_create_keys(parent, given.keys())
        return {key: value for values in create_categories(keys, given).values() for key, value in values.items()}

    async def _version_keys(self, folder: int, command: StoreDocument) -> dict[str, Any]:
        """A new version's keyed category values (:func:`~xstream.transform.documents.version_categories`)."""
        return await self._keyed(folder, version_categories(command.categories, self._attributes))

    async def _source_identity(self, node_id: int) -> tuple[str | None, str | None]:
        """The Source Document Id and Source Version a node carries (None when it carries none)."""
        category = find_category(await self._client.node_categories(node_id), self._attributes.category)
        if category is None:
            return None, None
        values = values_by_name(category)
        source_id, version = values.get(self._attributes.source_id), values.get(self._attributes.source_version)
        return (str(source_id) if source_id not in (None, "") else None,
                str(version) if version not in (None, "") else None)

    async def _hashed(self, node_id: int, version: int | None = None) -> UploadResult:
        """A stored version's size and sha256, by streaming it back (only where the sink did not see
        the bytes go up: a recovery, or a copy compared with the one published before)."""
        digest = Digest()
        async with self._client.open_document(node_id, version) as body:
            async for _ in verified(body.chunks(), ContentInfo(body.info.name, body.info.media_type, None), digest):
                pass
        number = version or (await self._client.latest_version(node_id)).version_number
        return UploadResult(node_id=node_id, version_number=number, size=digest.size, sha256=digest.sha256)

    async def _pending(self, entry: DocumentEntry, pending: PendingUpload) -> None:
        """Durable before the first byte goes: a retry by anyone then asks before it uploads again."""
        delivery = await self._state.put(entry.model_copy(update={"pending": pending}))
        await delivery

    def _opener(self, command: StoreDocument) -> Callable[[], Any]:
        return self._sources.opener(command.source, name=PurePosixPath(command.name).name,
                                    media_type=command.media_type, size=command.size, checksum=command.checksum)

    def _link(self, entry: DocumentEntry) -> DocumentLink | None:
        if entry.node_id is None:
            return None
        latest = entry.latest
        return DocumentLink(node_id=entry.node_id, name=entry.name or str(entry.node_id),
                            url=self._opentext_settings.workspace_url(entry.node_id),
                            version=latest.version if latest is not None else None)

    def _node_link(self, node_id: int, version: int | None = None) -> DocumentLink:
        return DocumentLink(node_id=node_id, name=str(node_id), url=self._opentext_settings.workspace_url(node_id),
                            version=version)

    # --- failures ----------------------------------------------------------------------------------------

    def _failed(self, exc: Exception, command: AnyDocumentCommand) -> SinkResult:
        """What a failure means: the source has no such document, a body that is not what was declared
        (both dead-lettered with their reason), a source that failed mid-stream (retried), or else as
        every sink reads it (:func:`~xstream.sinks.results.result_of`)."""
        for cause in _chain(exc):
            if isinstance(cause, SourceDocumentGone):
                return SinkResult.rejected(DeadLetterReason.SOURCE_NOT_FOUND, str(cause))
            if isinstance(cause, ContentMismatch):
                return SinkResult.rejected(DeadLetterReason.CONTENT_MISMATCH, cause.detail)
            if cause is not exc and isinstance(cause, SinkError) and cause.retriable:
                return SinkResult.transient(f"the source failed while streaming: {cause}")
        return result_of(exc, sink=self.name, context={"idempotency_key": command.idempotency_key,
                                                       "document": command.document_key, "kind": command.kind})


class _Hashing:
    """A body whose chunks are hashed (and checked) as they pass to the source system."""

    def __init__(self, body: Body, digest: Digest) -> None:
        self._body = body
        self._digest = digest

    @property
    def info(self) -> ContentInfo:
        return self._body.info

    def chunks(self) -> AsyncIterator[bytes]:
        return verified(self._body.chunks(), self._body.info, self._digest)


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 8:
        found.append(current)
        current = current.__cause__
    return found


def _without_empty(categories: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A value the source did not give is left alone, not written as empty."""
    kept = {name: {attr: value for attr, value in values.items() if value is not None}
            for name, values in categories.items()}
    return {name: values for name, values in kept.items() if values}


def _provenance(command: StoreDocument) -> str:
    return (f"xstream: {command.source.target} {command.source.format} document {command.source.document_id} "
            f"version {command.source.version}")[:255]


def _beside(name: str, source_id: str) -> str:
    path = PurePosixPath(name)
    tail = f" ({source_id}){path.suffix}"
    return path.stem[:max(1, 248 - len(tail))] + tail  # the extension survives a long name


def _record(command: PublishDocument, ref: str) -> DownstreamRecord:
    return DownstreamRecord(target=command.target, entity="attachments", record_id=ref)


def _last_copy(entry: DocumentEntry, command: PublishDocument) -> Published | None:
    """The copy of this document made before on the same source record: the next one is its version."""
    copies = [p for p in entry.published.values() if p.version is not None and p.target == command.target
              and p.record == command.record.bo_key]
    return copies[-1] if copies else None


def _bounded(published: dict[str, Published]) -> dict[str, Published]:
    return dict(list(published.items())[-KEPT_PUBLICATIONS:])


def _get(cache: OrderedDict[K, V], key: K) -> V | None:
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _put(cache: OrderedDict[K, V], key: K, value: V) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHED:
        cache.popitem(last=False)
