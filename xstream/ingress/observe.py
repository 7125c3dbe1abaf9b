"""Observations: a document's state, read from OpenText's REST API, as an OpenText event.

One code path for both ingress kinds, so one change gives one ``event_id`` whoever saw it.
Per document: ``GET /api/v2/nodes/{id}?fields=versions.element(0)`` (properties, latest version)
and ``GET /api/v2/nodes/{id}/categories?metadata`` (values by name). The enclosing business
workspace (``GET /api/v1/nodes/{id}/businessworkspace``, then the workspace with its business
object and categories) is cached per folder and per workspace for ``workspace_ttl_s``: it rarely
changes, and polling would otherwise pay three more calls per document.
A finished workflow: ``GET /api/v2/workflows/status/processes/{id}`` and its attachments folder
(aliases of the attached documents), then each document as above.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TypeVar

from xstream.clients.opentext import OpenTextClient
from xstream.clients.opentext.category_meta import NodeCategory, values_by_name
from xstream.clients.opentext.models import DOCUMENT, Node
from xstream.errors import TargetNotFound
from xstream.model.business import BusinessObject
from xstream.model.opentext import (
    Attributes,
    AuditChange,
    DocumentState,
    EventKind,
    EventWorkspace,
    Ingress,
    OpenTextEvent,
    WorkflowOutcome,
    observation_id,
)
from xstream.ports import Clock
from xstream.settings import OpenTextSettings

log = logging.getLogger(__name__)
ALIAS = 1
"""Node subtype of a shortcut (alias); workflow attachments are aliases of the attached documents."""
CACHE_ENTRIES = 10_000
"""Folders and workspaces remembered (most recently used)."""
T = TypeVar("T")


def attributes_of(categories: Sequence[NodeCategory]) -> Attributes:
    return {category.name: values_by_name(category) for category in categories}


class Observer:
    def __init__(self, client: OpenTextClient, settings: OpenTextSettings, clock: Clock, *,
                 workspace_ttl_s: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self._ttl = workspace_ttl_s
        self._monotonic = monotonic
        self._folder_workspace: OrderedDict[int, tuple[float, int | None]] = OrderedDict()
        self._workspaces: OrderedDict[int, tuple[float, EventWorkspace]] = OrderedDict()
        self.calls = 0
        """OpenText calls made (the poller reports them as a metric)."""

    def url(self, node_id: int) -> str:
        return self._settings.workspace_url(node_id)

    async def document(self, node_id: int, kind: EventKind, *, ingress: Ingress, snapshot: bool = False,
                       changes: Sequence[AuditChange] = (), hook_event_id: str | None = None,
                       workflow: WorkflowOutcome | None = None) -> OpenTextEvent | None:
        """The event for a document as it is now; None when the node is gone or is no document."""
        state = await self.document_state(node_id)
        if state is None:
            return None
        return await self.event_for(*state, kind, ingress=ingress, snapshot=snapshot, changes=changes,
                                    hook_event_id=hook_event_id, workflow=workflow)

    async def event_for(self, node: Node, document: DocumentState, kind: EventKind, *, ingress: Ingress,
                        snapshot: bool = False, changes: Sequence[AuditChange] = (),
                        hook_event_id: str | None = None, workflow: WorkflowOutcome | None = None) -> OpenTextEvent:
        """The event for a state already read (adds the enclosing workspace)."""
        return OpenTextEvent(
            event_id=observation_id(document, workflow), kind=kind, ingress=ingress, snapshot=snapshot,
            document=document, workspace=await self.workspace_of(node), workflow=workflow,
            changes=list(changes), hook_event_id=hook_event_id, observed_at=self._clock.now(),
        )

    async def document_state(self, node_id: int) -> tuple[Node, DocumentState] | None:
        try:
            self.calls += 1
            node, version = await self._client.get_document(node_id)
            if node.type != DOCUMENT:
                return None
            self.calls += 1
            categories = await self._client.node_categories(node_id)
        except TargetNotFound:
            return None  # deleted since it changed: nothing to report
        return node, DocumentState(
            node_id=node.id, name=node.name, parent_id=node.parent_id, url=self.url(node.id), version=version,
            mime_type=node.mime_type, create_date=node.create_date, modify_date=node.modify_date or "",
            attributes=attributes_of(categories),
        )

    async def workflow(self, process_id: int, *, ingress: Ingress,
                       hook_event_id: str | None = None) -> list[OpenTextEvent]:
        """One event per attached document of a finished process; none while it runs."""
        self.calls += 1
        status = await self._client.workflow_status(process_id)
        if status.status not in ("completed", "stopped"):
            return []
        outcome = WorkflowOutcome(process_id=process_id, name=status.name or "",
                                  status="completed" if status.status == "completed" else "stopped")
        events = []
        for doc_id in await self.attached_documents(status.attachment_folder_id):
            event = await self.document(doc_id, EventKind.WORKFLOW_FINISHED, ingress=ingress,
                                        hook_event_id=hook_event_id, workflow=outcome)
            if event is not None:
                events.append(event)
        return events

    async def attached_documents(self, folder_id: int | None) -> list[int]:
        if folder_id is None:
            return []
        found: list[int] = []
        try:
            async for child in self._client.iter_children(folder_id):
                self.calls += 1
                original = child.properties.get("original_id")
                if child.type == ALIAS and isinstance(original, int):
                    found.append(original)
                elif child.type == DOCUMENT:
                    found.append(child.id)
        except TargetNotFound:
            return []
        return found

    async def workspace_of(self, node: Node) -> EventWorkspace | None:
        """The business workspace a document lives in, cached per parent folder."""
        if node.parent_id is None:
            return None
        now = self._monotonic()
        cached = self._folder_workspace.get(node.parent_id)
        if cached is None or now - cached[0] > self._ttl:
            self.calls += 1
            cached = (now, await self._client.enclosing_workspace(node.id))
            _keep(self._folder_workspace, node.parent_id, cached)
        workspace_id = cached[1]
        return None if workspace_id is None else await self._workspace(workspace_id)

    async def _workspace(self, workspace_id: int) -> EventWorkspace:
        now = self._monotonic()
        cached = self._workspaces.get(workspace_id)
        if cached is not None and now - cached[0] <= self._ttl:
            return cached[1]
        self.calls += 2
        detail = await self._client.get_workspace(workspace_id)
        categories = await self._client.node_categories(workspace_id)
        props = detail.business_properties
        bo = next(iter(detail.references), None)
        workspace = EventWorkspace(
            node_id=workspace_id, name=detail.node.name, url=self.url(workspace_id),
            type_name=str(props.get("workspace_type_name") or detail.node.properties.get("wksp_type_name") or ""),
            business_object=BusinessObject(ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id)
            if bo is not None else None,
            attributes=attributes_of(categories),
        )
        _keep(self._workspaces, workspace_id, (now, workspace))
        return workspace


def _keep(cache: OrderedDict[int, T], key: int, value: T) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_ENTRIES:
        cache.popitem(last=False)
