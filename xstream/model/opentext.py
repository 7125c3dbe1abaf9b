"""OpenText events: what the ingress (poller or webhook) saw change in a workspace, as one model.

An event is an *observation*: the document's state as OpenText reported it (modify date, version,
category values by name), the workspace it lives in, and what caused the observation (``kind``).
Both ingress paths build the same observation from the same REST answers, so the same change seen
twice has the same ``event_id``; the status flow compares states, not deliveries, so duplicates
and replays cause nothing. Keyed on the topic by document node id: per-document order holds.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.business import BusinessObject

Attributes = dict[str, dict[str, Any]]
"""Category name -> attribute name -> value (a set attribute is a list of row objects)."""


class EventKind(StrEnum):
    DOCUMENT_ADDED = "document.added"
    VERSION_ADDED = "document.version_added"
    ATTRIBUTES_CHANGED = "document.attributes_changed"
    WORKFLOW_FINISHED = "workflow.finished"


DOCUMENT_KINDS = (EventKind.DOCUMENT_ADDED, EventKind.VERSION_ADDED, EventKind.ATTRIBUTES_CHANGED)


class Ingress(StrEnum):
    POLLER = "poller"
    WEBHOOK = "webhook"


class DocumentState(BaseModel):
    model_config = ConfigDict(frozen=True)

    node_id: int
    name: str
    parent_id: int | None = None
    url: str
    version: int | None = None
    """The latest version number; None when OpenText did not say."""
    mime_type: str | None = None
    create_date: str | None = None
    modify_date: str
    """As OpenText gives it (``YYYY-MM-DDTHH:MM:SS``, sometimes with ``Z``): second granularity."""
    attributes: Attributes = Field(default_factory=dict)


class EventWorkspace(BaseModel):
    """The business workspace a document lives in (None on the event when it is in none)."""

    model_config = ConfigDict(frozen=True)

    node_id: int
    name: str
    type_name: str
    url: str
    business_object: BusinessObject | None = None
    """The workspace's first business object: the source record it belongs to."""
    attributes: Attributes = Field(default_factory=dict)


class WorkflowOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    process_id: int
    name: str
    """The workflow's name (``wf_name``: its title, by default the workflow map's name)."""
    status: Literal["completed", "stopped"]


class AuditChange(BaseModel):
    """One audit-trail entry behind a polled observation (what happened, when, by whom)."""

    model_config = ConfigDict(frozen=True)

    event_type: int
    name: str
    date: str | None = None
    user_id: int | None = None


class OpenTextEvent(BaseModel):
    """The OpenText events topic's value."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    event_id: str = Field(min_length=16)
    """Identity of the observed state (see :func:`observation_id`): equal for equal observations."""
    kind: EventKind
    ingress: Ingress
    snapshot: bool = False
    """Part of the poller's first scan with ``start_from=latest``: recorded as the known state, runs no rules."""
    document: DocumentState
    workspace: EventWorkspace | None = None
    workflow: WorkflowOutcome | None = None
    """Set for ``workflow.finished``: one event per attached document."""
    changes: list[AuditChange] = Field(default_factory=list)
    hook_event_id: str | None = None
    """The id the server-side hook gave its notification (webhook ingress only)."""
    observed_at: datetime

    @property
    def kafka_key(self) -> str:
        return str(self.document.node_id)


def observation_id(document: DocumentState, workflow: WorkflowOutcome | None = None) -> str:
    """A digest of the observed state: the document's identity, modify date, version and attributes
    (for a finished workflow: the process, its outcome and the document). Not of the delivery, so the
    poller and the webhook give one change the same id."""
    if workflow is not None:
        parts: list[Any] = ["workflow", workflow.process_id, workflow.status, document.node_id]
    else:
        parts = ["document", document.node_id, document.modify_date, document.version, document.attributes]
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:40]


def parse_otcs_date(text: str | None) -> datetime | None:
    """OpenText dates (``2026-12-01T07:16:20``, with or without ``Z``/an offset) as aware UTC datetimes.

    A date without a zone is read as UTC: Content Server reports its own clock, and only
    differences between its dates matter here (the poller's overlap window covers skew).
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def attribute(attributes: Attributes, category: str, name: str) -> Any:
    """A value by category and attribute name (names compare case-insensitively, as people type them)."""
    for cat_name, values in attributes.items():
        if cat_name.casefold() == category.casefold():
            for attr_name, value in values.items():
                if attr_name.casefold() == name.casefold():
                    return value
    return None


def any_attribute(attributes: Attributes, name: str) -> Any:
    """A value by attribute name in whichever category has it first (for ``{document.Name}`` placeholders)."""
    for values in attributes.values():
        for attr_name, value in values.items():
            if attr_name.casefold() == name.casefold():
                return value
    return None
