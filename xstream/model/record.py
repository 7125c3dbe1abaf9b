"""Where a record came from: enough to find it again on the broker and to cite it in a dead letter."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RecordRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"
