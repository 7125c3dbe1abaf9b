"""The ledger: what the OpenText sink already applied, so repeats cost no OpenText call.

Two memories: applied idempotency keys (per process, bounded LRU) and, per business object, the
newest source position applied with its workspace. The second is also written to a compacted
topic (a ``LedgerStore``) and read back whole at start, so after a restart a replayed or older
event is still answered ``already_applied`` without calling OpenText and can never overwrite a
newer change. A forgotten key cannot cause a duplicate either: the sink looks the workspace up by
business object before creating it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from xstream.model.status import WorkspaceLink

PositionOrder = Callable[[str, str], "int | None"]


class LedgerEntry(BaseModel):
    """The ledger topic's value: the newest position applied for one business object."""

    model_config = ConfigDict(frozen=True)

    business_object: str
    position: str
    workspace: WorkspaceLink


class LedgerStore(Protocol):
    """Where ledger entries outlive the process (the compacted ledger topic)."""

    async def load(self) -> list[LedgerEntry]: ...

    async def save(self, entry: LedgerEntry) -> None: ...

    async def close(self) -> None: ...
"""Compares two source positions: negative, zero, positive, or None when not comparable."""


class Ledger:
    """Applied idempotency keys, and per business object the newest source position applied.

    An event whose position is not newer than the last one applied for its business object is
    stale (out of order, or replayed from before a later change) and is answered already_applied.
    """

    def __init__(self, capacity: int = 100_000, order: PositionOrder | None = None) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, WorkspaceLink] = OrderedDict()
        self._positions: OrderedDict[str, tuple[str, WorkspaceLink]] = OrderedDict()
        self._order = order

    def stale(self, business_object: str, position: str) -> WorkspaceLink | None:
        """The object's workspace when ``position`` is not newer than the last applied one."""
        last = self._positions.get(business_object)
        if last is None or self._order is None:
            return None
        compared = self._order(position, last[0])
        return last[1] if compared is not None and compared <= 0 else None

    def _newer(self, business_object: str, position: str) -> bool:
        """Newer than the last applied, or not comparable with it (another connector, a failover): the
        entry is replaced then, so protection is not lost for good."""
        last = self._positions.get(business_object)
        if last is None or self._order is None:
            return True
        compared = self._order(position, last[0])
        return compared is None or compared > 0

    def newer_entry(self, business_object: str, position: str, link: WorkspaceLink) -> LedgerEntry | None:
        """The entry to persist when ``position`` moves the object forward (nothing changes yet)."""
        if not self._newer(business_object, position):
            return None
        return LedgerEntry(business_object=business_object, position=position, workspace=link)

    def advance(self, business_object: str, position: str, link: WorkspaceLink) -> LedgerEntry | None:
        """Record an applied position; returns the entry when it moved the object forward."""
        newer = self._newer(business_object, position)
        if newer:
            self._positions[business_object] = (position, link)
        self._positions.move_to_end(business_object)
        while len(self._positions) > self._capacity:
            self._positions.popitem(last=False)
        return LedgerEntry(business_object=business_object, position=position, workspace=link) if newer else None

    def restore(self, entries: list[LedgerEntry]) -> None:
        for entry in entries:
            self.advance(entry.business_object, entry.position, entry.workspace)

    def get(self, key: str) -> WorkspaceLink | None:
        link = self._entries.get(key)
        if link is not None:
            self._entries.move_to_end(key)
        return link

    def put(self, key: str, link: WorkspaceLink) -> None:
        self._entries[key] = link
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
