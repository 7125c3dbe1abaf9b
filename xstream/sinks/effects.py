"""The effect ledger: every effect a downstream target applied, so a replay never repeats one.

An approval is a POST that creates something and an incoming webhook posts every message it gets;
neither is safe to repeat, and an Idempotency-Key helps only while the target remembers it (ERP
keys expire, chat webhooks ignore them). A record update is safe to repeat only as long as nothing
changed the record since: a replayed old update would undo a newer one. So each applied effect is
recorded under its command's idempotency key on the effects topic (compacted, co-partitioned with
the downstream command topic, read for every newly assigned partition) before its command is
acknowledged: a replay of any topic, by this deployment or a new one, finds the key and is
``already_applied`` without calling the target.

The one window left is a crash after the target answered and before the entry is durable: the
command is then sent again with the same Idempotency-Key, which records APIs honour.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from pydantic import BaseModel, ConfigDict

from xstream.model.commands import AnyDownstream
from xstream.model.status import DownstreamRecord
from xstream.streams.state import PartitionedStore


class EffectEntry(BaseModel):
    """The effects topic's value: one effect applied to a downstream target."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    target: str
    kind: str
    record: DownstreamRecord


class EffectLedger:
    def __init__(self, store: PartitionedStore[EffectEntry]) -> None:
        self._store = store

    @property
    def state(self) -> PartitionedStore[EffectEntry]:
        return self._store

    def applied(self, command: AnyDownstream) -> DownstreamRecord | None:
        entry = self._store.get(command.idempotency_key, self._store.partition_for(command.kafka_key))
        return entry.record if entry is not None else None

    async def record(self, command: AnyDownstream, record: DownstreamRecord) -> Awaitable[Any]:
        """Remember an applied effect; the delivery resolves when the entry is durable."""
        entry = EffectEntry(idempotency_key=command.idempotency_key, target=command.target, kind=command.kind,
                            record=record)
        return await self._store.put(command.idempotency_key, entry,
                                     partition=self._store.partition_for(command.kafka_key))
