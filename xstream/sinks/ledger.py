"""The ledger: per business object, what the OpenText sink last applied, so repeats cost no OpenText call.

An entry holds the newest source position applied for the object, its workspace, and the last
idempotency keys applied (for positions that cannot be ordered, say after a connector change). It
lives on the compacted ledger topic, co-partitioned with the workspace command topic
(:class:`~xstream.streams.state.PartitionedStore`), and is read for every newly assigned partition
before its first command: a replayed or older event is answered ``already_applied`` without calling
OpenText and can never overwrite a newer change, whichever worker applied it.

A lost entry cannot cause a duplicate either: the sink looks the workspace up by business object
before creating it. It only costs that lookup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.status import WorkspaceLink
from xstream.streams.state import PartitionedStore

PositionOrder = Callable[[str, str], "int | None"]
"""Compares two source positions: negative, zero, positive, or None when not comparable."""
KEPT_KEYS = 16


class LedgerEntry(BaseModel):
    """The ledger topic's value: the newest position applied for one business object."""

    model_config = ConfigDict(frozen=True)

    business_object: str
    position: str
    workspace: WorkspaceLink
    keys: tuple[str, ...] = Field(default=())
    """The last idempotency keys applied for the object (newest last, at most 16)."""


class Ledger:
    """What was applied per business object, read back per partition, written before acknowledging."""

    def __init__(self, store: PartitionedStore[LedgerEntry], order: PositionOrder) -> None:
        self._store = store
        self._order = order

    @property
    def state(self) -> PartitionedStore[LedgerEntry]:
        return self._store

    def applied(self, business_object: str, key: str, position: str) -> WorkspaceLink | None:
        """The object's workspace when this command (or a newer change) was applied already."""
        entry = self._entry(business_object)
        if entry is None:
            return None
        if key in entry.keys:
            return entry.workspace
        compared = self._order(position, entry.position)
        return entry.workspace if compared is not None and compared <= 0 else None

    async def record(self, business_object: str, key: str, position: str, link: WorkspaceLink) -> Awaitable[Any]:
        """Remember an applied command; its delivery resolves when the entry is durable."""
        entry = self._entry(business_object)
        newer = entry is None or (compared := self._order(position, entry.position)) is None or compared > 0
        keys = ((entry.keys if entry is not None else ()) + (key,))[-KEPT_KEYS:]
        kept = LedgerEntry(business_object=business_object, position=position if newer or entry is None
                           else entry.position, workspace=link, keys=keys)
        return await self._store.put(business_object, kept, partition=self._store.partition_for(business_object))

    def workspace(self, business_object: str) -> WorkspaceLink | None:
        """The object's workspace as last applied here or by the partition's previous owner."""
        entry = self._entry(business_object)
        return entry.workspace if entry is not None else None

    def _entry(self, business_object: str) -> LedgerEntry | None:
        return self._store.get(business_object, self._store.partition_for(business_object))

    def forget(self, partitions: Collection[int]) -> None:
        self._store.forget(partitions)
