"""Business object identity: the join point between a source system and an OpenText workspace."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# OpenText strips identifiers; an id that is blank after stripping identifies nothing.
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class BusinessObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    ext_system_id: Identifier
    bo_type: Identifier
    bo_id: Identifier

    @property
    def kafka_key(self) -> str:
        """Commands and status events are keyed by this, so per-object order holds on a partition."""
        return f"{self.ext_system_id}/{self.bo_type}/{self.bo_id}"
