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
    """e.g. "lsn:24023128" (Postgres), "binlog:mysql-bin.000003:154" (MySQL); None when unknown."""


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
    transaction_id: str | None = None
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
