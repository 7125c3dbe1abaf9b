"""Business object identity: the join point between a source system and an OpenText workspace."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BusinessObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: str = Field(min_length=1)

    @property
    def kafka_key(self) -> str:
        """Commands and status events are keyed by this, so per-object order holds on a partition."""
        return f"{self.ext_system_id}/{self.bo_type}/{self.bo_id}"
