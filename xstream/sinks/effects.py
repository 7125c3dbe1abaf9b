"""The effect ledger: approvals started and notifications sent, so a replay never repeats one.

An approval is a POST that creates something, and an incoming webhook posts every message it gets;
neither is safe to repeat, and an Idempotency-Key helps only while the target remembers it (and
chat webhooks ignore it). So each such effect is recorded under its command's idempotency key on
the effects topic (compacted, read back whole when partitions are assigned) before its command is
acknowledged: a replay of any topic, by this deployment or a new one, finds the key and answers
``already_applied`` without calling the target.

The one window left is a crash after the target answered and before the entry is written: the
command is then sent again with the same Idempotency-Key (which records APIs honour).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from xstream.model.status import DownstreamRecord


class EffectEntry(BaseModel):
    """The effects topic's value: one effect a downstream target cannot de-duplicate by itself."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    target: str
    kind: str
    record: DownstreamRecord


class EffectStore(Protocol):
    async def load(self) -> list[EffectEntry]: ...

    async def save(self, entry: EffectEntry) -> None: ...

    async def close(self) -> None: ...


class EffectLedger:
    """Effects applied, by idempotency key; bounded in memory, complete on the effects topic."""

    def __init__(self, store: EffectStore | None = None, capacity: int = 1_000_000) -> None:
        self._store = store
        self._capacity = capacity
        self._entries: OrderedDict[str, DownstreamRecord] = OrderedDict()

    @property
    def durable(self) -> bool:
        return self._store is not None

    def get(self, key: str) -> DownstreamRecord | None:
        return self._entries.get(key)

    async def record(self, entry: EffectEntry) -> None:
        """Durable first (raises when the store refuses), then remembered."""
        if self._store is not None:
            await self._store.save(entry)
        self._remember(entry)

    async def refresh(self) -> int:
        if self._store is None:
            return 0
        entries = await self._store.load()
        for entry in entries:
            self._remember(entry)
        return len(entries)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()

    def _remember(self, entry: EffectEntry) -> None:
        self._entries[entry.idempotency_key] = entry.record
        self._entries.move_to_end(entry.idempotency_key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
