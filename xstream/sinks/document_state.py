"""What the document sink stored, per document: where its governed copy is and the sha256 of each
version, because Content Server keeps no checksum of its own.

One entry per document key (``erp/sap/<attachment id>``, ``opentext/<node id>``) on the compacted
``xstream.documents`` topic, co-partitioned with the document command topic and read for every
newly assigned partition before its first command (:class:`~xstream.streams.state.PartitionedStore`):

- ``node_id`` and ``versions``: the OpenText document and, per version xstream stored, the source
  version it stands for, its size and sha256 (and the source's own checksum, Salesforce's MD5). A
  replay or an older source version is answered from here without calling OpenText; a new source
  version whose bytes hash the same as the latest stored one adds no version.
- ``pending``: written (and durable) *before* an upload starts, cleared when it is stored. A worker
  that finds a pending upload of the same command (after a crash, or a lost answer) asks OpenText
  whether it arrived before sending it again: no second version, no lost one.
- ``published``: per outbound publication (a copy or a link to a source record) what the source
  answered, so a replay publishes nothing twice.
- ``keys``: the last idempotency keys applied (locks, marks, attribute changes).

Pure data and decisions; the sink does the I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.streams.state import PartitionedStore

KEPT_VERSIONS = 32
KEPT_KEYS = 128


class StoredVersion(BaseModel):
    """One version xstream stored in OpenText, and what its bytes were."""

    model_config = ConfigDict(frozen=True)

    version: int
    """The OpenText version number."""
    source_version: int | None = None
    """The source's version it stands for (None for a version xstream did not store from a source)."""
    size: int
    sha256: str
    source_checksum: str | None = None


class PendingUpload(BaseModel):
    """An upload begun and not yet known to be stored: what to look for before sending it again."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    kind: Literal["create", "version"]
    folder_id: int | None = None
    name: str | None = None


class Published(BaseModel):
    """A publication to a source record: what the source calls it."""

    model_config = ConfigDict(frozen=True)

    ref: str
    target: str | None = None
    record: str | None = None
    """The source record it is on (SAP object key, Salesforce record id)."""
    version: int | None = None
    """The OpenText version that was copied (None for a link)."""
    sha256: str | None = None


class DocumentEntry(BaseModel):
    """The ``xstream.documents`` topic's value: one document as the document sink knows it."""

    model_config = ConfigDict(frozen=True)

    document_key: str
    node_id: int | None = None
    name: str | None = None
    folder_id: int | None = None
    versions: tuple[StoredVersion, ...] = ()
    pending: PendingUpload | None = None
    published: dict[str, Published] = Field(default_factory=dict)
    marked: bool = False
    locked: tuple[int, ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def latest(self) -> StoredVersion | None:
        return self.versions[-1] if self.versions else None

    def holds_source_version(self, source_version: int) -> bool:
        """A version at or after this source version is stored: a replay or an older notice."""
        return any(v.source_version is not None and v.source_version >= source_version for v in self.versions)

    def with_version(self, stored: StoredVersion, *, node_id: int, name: str, folder_id: int | None,
                     key: str) -> DocumentEntry:
        versions = tuple(v for v in self.versions if v.version != stored.version) + (stored,)
        return self.model_copy(update={"node_id": node_id, "name": name, "folder_id": folder_id,
                                       "versions": versions[-KEPT_VERSIONS:], "pending": None,
                                       "keys": _kept(self.keys, key)})

    def with_key(self, key: str, **changes: Any) -> DocumentEntry:
        return self.model_copy(update={**changes, "keys": _kept(self.keys, key)})


def _kept(keys: tuple[str, ...], key: str) -> tuple[str, ...]:
    return (tuple(k for k in keys if k != key) + (key,))[-KEPT_KEYS:]


class DocumentState:
    """The entries of the partitions this worker holds; written before a command is acknowledged."""

    def __init__(self, store: PartitionedStore[DocumentEntry]) -> None:
        self._store = store

    @property
    def store(self) -> PartitionedStore[DocumentEntry]:
        return self._store

    def get(self, document_key: str) -> DocumentEntry:
        found = self._store.get(document_key, self._store.partition_for(document_key))
        return found if found is not None else DocumentEntry(document_key=document_key)

    async def put(self, entry: DocumentEntry) -> Awaitable[Any]:
        """Keep ``entry``; the returned delivery resolves when it is durable."""
        return await self._store.put(entry.document_key, entry,
                                     partition=self._store.partition_for(entry.document_key))
