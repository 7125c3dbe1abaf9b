"""A change to a business record, decoded from a CDC envelope; independent of Debezium's wire shape."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from xstream.model.record import RecordRef


class Op(StrEnum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot read


class SourceInfo(BaseModel):
    """The source database coordinates; ``position`` is a canonical, comparable-per-connector string."""

    model_config = ConfigDict(frozen=True)

    connector: str | None = None
    name: str | None = None
    db: str | None = None
    schema_name: str | None = None
    table: str | None = None
    snapshot: bool = False
    position: str | None = None
    """e.g. "lsn:24023128" (Postgres), "binlog:mysql-bin.000003:154:0" (MySQL); None when unknown.
    Ordered by :func:`xstream.model.position.position_order`."""
    ts_ms: int | None = None
    """When the change happened in the source database (``source.ts_ms``/``ts_us``/``ts_ns``)."""


class TransactionInfo(BaseModel):
    """Debezium's transaction block: which transaction a change belongs to and its place in it."""

    model_config = ConfigDict(frozen=True)

    id: str
    total_order: int | None = None
    """1-based place of this event among all events of the transaction."""
    data_collection_order: int | None = None
    """1-based place among the transaction's events of the same table."""


class ChangeEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: str
    """The table or collection; the mapping rules match on it (and on the topic)."""
    op: Op
    key: dict[str, Any]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    source: SourceInfo = SourceInfo()
    ts_ms: int | None = None
    """When Debezium processed the change (the envelope's ``ts_ms``, or ``ts_us``/``ts_ns`` scaled)."""
    transaction_id: str | None = None
    transaction: TransactionInfo | None = None
    record: RecordRef

    @property
    def row(self) -> dict[str, Any]:
        """The state the event leaves behind (the old row for a delete)."""
        return dict(self.after if self.after is not None else self.before or {})

    @property
    def position(self) -> str:
        """Source position when the connector gives one, else the Kafka coordinates: stable on replay."""
        return self.source.position or f"kafka:{self.record}"


class Tombstone(BaseModel):
    """A null-valued record after a delete: expected, counted, never an error."""

    model_config = ConfigDict(frozen=True)

    key: dict[str, Any] | None
    record: RecordRef
