"""Commands: finished instructions for a sink, keyed by business object, carrying their idempotency key.

A command names OpenText things (workspace type, template, category and attribute) by *name*, not
by id: ids differ between a test system and production, and the sink resolves them against the
server it talks to. The idempotency key is computed here, from the source identity and position,
never from a random id or the clock, so a replay sends the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

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
    parent_path: str | None = None
    """Or a folder path ("A/B") under the workspace type's location, found or created by the sink."""
    name: str = Field(min_length=1, max_length=248)
    description: str = ""
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Category name -> attribute name -> value."""
    causation: Causation

    @property
    def kafka_key(self) -> str:
        return self.business_object.kafka_key

    @property
    def create_categories(self) -> dict[str, dict[str, Any]]:
        """The metadata a new workspace is created with."""
        return self.categories


class UpdateWorkspace(BaseModel):
    """Bring a business object's workspace up to date after a source change.

    ``changed`` holds only the attributes whose source values changed: that is all that is sent
    when the workspace exists. When it does not exist yet (the first event seen for the object was
    an update), it is created from ``name`` and :attr:`create_categories` like ensure_workspace
    would. Each value is carried once (``categories`` holds the attributes that did not change), so
    a command is never much larger than the change that caused it.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["update_workspace"] = "update_workspace"
    idempotency_key: str = Field(min_length=16)
    business_object: BusinessObject
    workspace_type: str = Field(min_length=1)
    template: str | None = None
    parent_id: int | None = None
    parent_path: str | None = None
    """As in ensure_workspace: a folder path under the workspace type's location."""
    name: str = Field(min_length=1, max_length=248)
    description: str = ""
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """The attributes that did not change (not null), used only when the workspace has to be created."""
    changed: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Category name -> attribute name -> new value, for the attributes that changed (None clears)."""
    create_if_absent: bool = True
    """False for a source delete: a missing workspace stays missing (nothing to mark; already_applied)."""
    causation: Causation

    @property
    def kafka_key(self) -> str:
        return self.business_object.kafka_key

    @property
    def create_categories(self) -> dict[str, dict[str, Any]]:
        """The complete metadata a new workspace is created with: the unchanged and the changed values."""
        merged = {category: dict(values) for category, values in self.categories.items()}
        for category, values in self.changed.items():
            for attribute, value in values.items():
                if value is not None:
                    merged.setdefault(category, {})[attribute] = value
        return {category: values for category, values in merged.items() if values}


WorkspaceCommand = Annotated[EnsureWorkspace | UpdateWorkspace, Field(discriminator="kind")]
"""The workspace command topic's value type; consumers switch on ``kind``."""


class DocumentLink(BaseModel):
    """The OpenText document a command is about: carried into its status event."""

    model_config = ConfigDict(frozen=True)

    node_id: int
    name: str
    url: str
    version: int | None = None


class RecordPointer(BaseModel):
    """A record in a downstream system, e.g. ``suppliers/0000300001``."""

    model_config = ConfigDict(frozen=True)

    entity: str = Field(min_length=1)
    id: str = Field(min_length=1)


class _Downstream(BaseModel):
    """What every downstream command carries: its key, its target, whom it concerns and why."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(min_length=16)
    target: str = Field(min_length=1)
    """Name of the target in settings.targets, e.g. "erp"."""
    business_object: BusinessObject
    causation: Causation
    rule: str | None = None
    """The status rule that made the command (None for link-back writes)."""
    document: DocumentLink | None = None
    """The OpenText document whose change caused the command, if one did."""

    @property
    def kafka_key(self) -> str:
        return self.business_object.kafka_key


class UpdateRecord(_Downstream):
    """Update a record in a downstream system (ERP, CRM, ...) through the downstream HTTP sink.

    ``fields`` are merged into the record (HTTP PATCH with an Idempotency-Key); xstream's own
    writes carry ``causation.origin`` so that their CDC echo is recognised and not re-applied.
    """

    kind: Literal["update_record"] = "update_record"
    entity: str = Field(min_length=1)
    """The record's collection in the target, e.g. "customers"."""
    record_id: str = Field(min_length=1)
    fields: dict[str, Any]


class StartApproval(_Downstream):
    """Start an approval workflow in a downstream system (flow F3): one POST, never two.

    The target creates an approval (``POST {base_url}/{approvals_path}``); the sink records it in
    the effect ledger, so a replay never starts a second approval even after the target forgot
    the Idempotency-Key.
    """

    kind: Literal["start_approval"] = "start_approval"
    process: str = Field(min_length=1)
    """The target's approval process, e.g. "commercial_approval"."""
    subject: str = Field(min_length=1, max_length=500)
    record: RecordPointer | None = None
    """The business record the approval is about, when the rule names one."""
    fields: dict[str, Any] = Field(default_factory=dict)


class Notify(_Downstream):
    """Tell a team about an outcome (flow F6) through a chat incoming webhook (Slack, Teams).

    Target-neutral: the sink renders title, text, facts and link in the target's message format.
    Incoming webhooks do not de-duplicate, so the sink records sent notifications in the effect ledger.
    """

    kind: Literal["notify"] = "notify"
    channel: str = Field(min_length=1)
    """A channel configured on the target (settings targets.<name>.channels)."""
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(max_length=4000)
    facts: dict[str, str] = Field(default_factory=dict)
    """Label -> value, shown as a small table."""
    link_title: str | None = None
    link_url: str | None = None


DownstreamCommand = Annotated[UpdateRecord | StartApproval | Notify, Field(discriminator="kind")]
"""The downstream command topic's value type; each target's runner applies the commands for it."""
AnyDownstream = UpdateRecord | StartApproval | Notify
