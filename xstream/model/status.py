"""Status events: the outcome of every command, published for other teams (a versioned contract).

Additive changes only within a schema_version; ``topics/schemas/`` holds the generated JSON Schema
and CI fails when the model and the committed schema disagree.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, DocumentLink


class Outcome(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead_lettered"


class WorkspaceLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    node_id: int
    url: str


class DownstreamRecord(BaseModel):
    """The record a downstream command changed, as the target identifies it."""

    model_config = ConfigDict(frozen=True)

    target: str
    entity: str
    record_id: str
    url: str | None = None


class StatusEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    outcome: Outcome
    command_kind: str
    idempotency_key: str
    business_object: BusinessObject
    target: str
    """The system the command was applied to, e.g. "opentext"."""
    workspace: WorkspaceLink | None = None
    workspace_created: bool = False
    """True when this command created the workspace (its link is new)."""
    downstream: DownstreamRecord | None = None
    """Set for commands applied to a downstream system."""
    reason: str | None = None
    """Why a command was rejected or dead-lettered; None on success."""
    document: DocumentLink | None = None
    """The OpenText document whose change caused the command (status-rule commands)."""
    rule: str | None = None
    """The status rule that made the command, if one did."""
    causation: Causation
    occurred_at: datetime
