"""The source systems' side of the document sink: their attachment APIs, built from the targets'
settings, and the two things the sink does there (open a body, publish a copy or a link).

A body is opened *as the notice declared it*: :func:`declared_opener` wraps the source's own
opening so the size and checksum the attachment row gave (not only what the download's headers say)
are what :func:`xstream.content.verified` checks while the bytes stream to OpenText. A source that
answers 404 for the document is :class:`SourceDocumentGone` (the notice points at nothing: a typed
dead letter), told apart from OpenText's own 404s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from xstream.clients.salesforce import ContentVersionRef, SalesforceFilesClient
from xstream.clients.sap import SapAttachmentRef, SapAttachmentsClient
from xstream.content import Body, BodyOpener, ContentInfo
from xstream.content import Checksum as BodyChecksum
from xstream.errors import ConfigError, SinkRejected, TargetNotFound
from xstream.http.auth import Authenticator
from xstream.http.session import HttpSession
from xstream.model.documents import Checksum, PublishDocument, SourceFormat, SourceRef
from xstream.settings import TargetSettings
from xstream.sinks.target import authenticator_for

SourceClient = SapAttachmentsClient | SalesforceFilesClient


class SourceDocumentGone(SinkRejected):
    """The source system has no such document (any more): the notice points at nothing."""


@dataclass(frozen=True)
class PublishedRef:
    """What the source calls a publication: its reference (to version it later) and its document id."""

    ref: str
    document_id: str


class DeclaredBody:
    """The source's body, described as the notice declared it (size, checksum) where it did."""

    def __init__(self, body: Body, info: ContentInfo) -> None:
        self._body = body
        self._info = info

    @property
    def info(self) -> ContentInfo:
        return self._info

    def chunks(self) -> AsyncIterator[bytes]:
        return self._body.chunks()


class Sources:
    """The attachment API of each target the document rules name, one client (session) per target."""

    def __init__(self, clients: dict[str, SourceClient]) -> None:
        self._clients = clients

    @classmethod
    def from_settings(cls, targets: dict[str, TargetSettings], wanted: Iterable[tuple[str, SourceFormat]],
                      *, origin: str = "xstream") -> Sources:
        clients: dict[str, SourceClient] = {}
        for name, format in sorted(set(wanted)):
            settings = targets.get(name)
            if settings is None or settings.kind != "records":
                raise ConfigError(f"document rules read or write documents of target {name}, which is not a "
                                  f"records target: set XSTREAM_TARGETS__{name.upper()}__BASE_URL")
            if name in clients and not isinstance(clients[name], _CLIENT_OF[format]):
                raise ConfigError(f"document rules use target {name} as both sap and salesforce")
            session = HttpSession(name, limit=settings.concurrency, request_timeout_s=settings.request_timeout_s,
                                  connect_timeout_s=settings.connect_timeout_s)
            auth: Authenticator = authenticator_for(name, settings.auth, session.send)
            clients[name] = _CLIENT_OF[format](settings.attachments_root, auth=auth, session=session, target=name,
                                               origin=origin, request_timeout_s=settings.request_timeout_s)
        return cls(clients)

    def client(self, target: str) -> SourceClient:
        return self._clients[target]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()

    def opener(self, source: SourceRef, *, name: str, media_type: str, size: int | None,
               checksum: Checksum | None) -> BodyOpener:
        """Opens the body from its start each time (an upload may begin again), described as declared."""
        client = self.client(source.target)
        declared = BodyChecksum(checksum.algorithm, checksum.hex) if checksum is not None else None

        @asynccontextmanager
        async def open_body() -> AsyncIterator[Body]:
            async with AsyncExitStack() as stack:
                try:  # only the source's own 404 means "gone": OpenText's, raised while the body streams
                    body = await stack.enter_async_context(client.open(source.ref))  # into it, stays its own
                except TargetNotFound as exc:
                    raise SourceDocumentGone(f"{source.target} has no document {source.ref} ({exc})",
                                             target=source.target) from exc
                got = body.info
                yield DeclaredBody(body, ContentInfo(
                    name=name or got.name, media_type=media_type or got.media_type,
                    size=size if size is not None else got.size, checksum=declared or got.checksum))

        return open_body

    async def publish_link(self, command: PublishDocument, url: str) -> PublishedRef:
        """A link to the workspace document on the source record (SAP ``CreateUrlAsAttachment``,
        a Salesforce link file); the command's key makes a repeat harmless."""
        client = self.client(command.target)
        record = command.record
        if isinstance(client, SapAttachmentsClient):
            # SAP Gateway keeps no Idempotency-Key: after a lost answer the link may be there already.
            # Look first (one GetAllOriginals), so a retry never links twice on a real system either.
            description = command.name[:255]
            for existing in await client.list_originals(record.bo_type or "", record.bo_key):
                if existing.kind == "url" and existing.url == url and existing.file_name == description:
                    return PublishedRef(existing.ref.predicate(), existing.ref.doc_number)
            attachment = await client.create_url(record.bo_type or "", record.bo_key, url, description,
                                                 document_type=command.document_type,
                                                 idempotency_key=command.idempotency_key)
            return PublishedRef(attachment.ref.predicate(), attachment.ref.doc_number)
        version = await client.link(record.bo_key, url, command.name, document_type=command.document_type,
                                    idempotency_key=command.idempotency_key)
        return PublishedRef(version.id, version.content_document_id)

    async def publish_copy(self, command: PublishDocument, body: Body, previous: str | None) -> PublishedRef:
        """The bytes as an attachment of the source record: a new one, or the next version of
        ``previous`` (what the source called the last copy of this document)."""
        client = self.client(command.target)
        record = command.record
        if isinstance(client, SapAttachmentsClient):
            attachment = await client.upload(
                record.bo_type or "", record.bo_key, body, document_type=command.document_type,
                new_version_of=SapAttachmentRef.parse(previous) if previous else None,
                idempotency_key=command.idempotency_key)
            return PublishedRef(attachment.ref.predicate(), attachment.ref.doc_number)
        version = await client.upload(record.bo_key, body, title=command.name,
                                      new_version_of=ContentVersionRef(Id=previous) if previous else None,
                                      document_type=command.document_type, idempotency_key=command.idempotency_key)
        return PublishedRef(version.id, version.content_document_id)


_CLIENT_OF: dict[SourceFormat, type[SapAttachmentsClient] | type[SalesforceFilesClient]] = {
    "sap": SapAttachmentsClient, "salesforce": SalesforceFilesClient}
