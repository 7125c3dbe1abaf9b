"""Commands: finished instructions for a sink, keyed by business object, carrying their idempotency key.

A command names OpenText things (workspace type, template, category and attribute) by *name*, not
by id: ids differ between a test system and production, and the sink resolves them against the
server it talks to. The idempotency key is computed here, from the source identity and position,
never from a random id or the clock, so a replay sends the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.business import BusinessObject

ORIGIN = "xstream"


class Causation(BaseModel):
    """What caused a command: carried into status events and onto everything xstream writes."""

    model_config = ConfigDict(frozen=True)

    origin: str = ORIGIN
    source_system: str
    entity: str
    op: str
    source_position: str
    topic: str
    partition: int
    offset: int


def idempotency_key(
    *, source_system: str, entity: str, key: dict[str, Any], position: str, command_kind: str
) -> str:
    """A stable digest of where a command came from; equal inputs give equal keys on every replay."""
    # stdlib json, not orjson: it canonicalises integers of any size (orjson stops at 64 bits).
    canonical = json.dumps([source_system, entity, key, position, command_kind], sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


class EnsureWorkspace(BaseModel):
    """Make sure a business workspace exists for a business object, created with this metadata if absent."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["ensure_workspace"] = "ensure_workspace"
    idempotency_key: str = Field(min_length=16)
    business_object: BusinessObject
    workspace_type: str = Field(min_length=1)
    template: str | None = None
    """Template name; the workspace type's first template when None."""
    parent_id: int | None = None
    """Target folder; the workspace type's fixed location when None."""
    name: str = Field(min_length=1, max_length=248)
    description: str = ""
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Category name -> attribute name -> value."""
    causation: Causation

    @property
    def kafka_key(self) -> str:
        return self.business_object.kafka_key


# The command topic's value type. It becomes a discriminated union on ``kind`` when the next
# command kind arrives (update_workspace, upload_document, ...); consumers already switch on ``kind``.
WorkspaceCommand = EnsureWorkspace
