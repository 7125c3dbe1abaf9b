"""The OpenText sink: applies one workspace command to Content Server through the async client.

OpenText has no idempotency header, so ``ensure_workspace`` is made idempotent here: the client
looks the workspace up by business object before creating it (and again when a create fails, or
when the answer to a create was lost: a concurrent or earlier creator may have won), and the ledger
(per business object: the newest position applied and its workspace) answers a replayed or older
command without calling OpenText at all. The runner keeps per-object order and retries unfinished
results; this sink applies one command and says what happened.
"""

from __future__ import annotations

import logging

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest, WorkspaceType
from xstream.errors import DeadLetterReason, MappingError, SinkRejected, SinkUnavailable, TargetNotFound
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace
from xstream.model.results import SinkResult
from xstream.model.status import WorkspaceLink
from xstream.settings import OpenTextSettings
from xstream.sinks.ledger import Ledger
from xstream.sinks.results import result_of
from xstream.streams.state import PartitionedStore
from xstream.transform.opentext_requests import create_categories, create_request, pick, pick_template

log = logging.getLogger(__name__)

WorkspaceCommandType = EnsureWorkspace | UpdateWorkspace


class OpenTextSink:
    name = "opentext"

    def __init__(self, settings: OpenTextSettings, ledger: Ledger, client: OpenTextClient | None = None) -> None:
        self._settings = settings
        self._client = client or OpenTextClient(settings)
        self._ledger = ledger

    @property
    def state(self) -> PartitionedStore[object]:
        """The ledger: loaded by the runner for each assigned partition before its first command."""
        return self._ledger.state  # type: ignore[return-value]

    async def start(self) -> None:
        """Log in early so wrong credentials stop the worker at start; an unreachable server does not.

        While OpenText is down the commands stay unfinished, the runner retries them and the client
        logs in on the first call that gets through.
        """
        try:
            await self._client.login()
        except SinkUnavailable as exc:
            log.warning("OpenText unavailable at start; will log in on first use", extra={"error": str(exc)})

    async def close(self) -> None:
        await self._client.close()

    async def apply(self, command: WorkspaceCommandType) -> SinkResult:
        bo_key, position = command.kafka_key, command.causation.source_position
        done = self._ledger.applied(bo_key, command.idempotency_key, position)
        if done is not None:
            log.debug("already applied", extra={"business_object": bo_key, "idempotency_key": command.idempotency_key})
            return SinkResult.already_applied(done)
        try:
            known = self._ledger.workspace(bo_key)
            found: int | None
            if isinstance(command, UpdateWorkspace) and known is not None and await self._update_known(command,
                                                                                                known.node_id):
                found, created, changed = known.node_id, False, True
            else:
                found, created = await self._workspace_for(command)
                changed = False
            if found is None:
                return SinkResult.already_applied()  # a source delete for an object that never had a workspace
            node_id = found
            if not changed and isinstance(command, UpdateWorkspace) and not created and command.changed:
                # only the attributes whose source values changed; equal values are not re-sent
                changed = await self._client.update_categories(node_id, command.changed)
        except Exception as exc:  # noqa: BLE001 - classified once; a poison command must not crash-loop the worker
            return result_of(exc, sink=self.name, context={"idempotency_key": command.idempotency_key,
                                                           "business_object": bo_key, "kind": command.kind})
        link = WorkspaceLink(node_id=node_id, url=self._settings.workspace_url(node_id))
        await self._ledger.record(bo_key, command.idempotency_key, position, link)  # durable before the ack
        return SinkResult.applied(link, created=created) if created or changed else SinkResult.already_applied(link)

    async def _update_known(self, command: UpdateWorkspace, node_id: int) -> bool:
        """An update of a workspace the ledger knows: one PUT per changed category, keyed from the
        template's create form (cached), with no lookup and no read. False when this cannot be the
        whole story (nothing changed, a set whose rows must be read, a node that no longer answers as
        it should): the caller then takes the reading path, which finds out and repairs."""
        if not command.changed or self._has_sets(command):
            return False
        _, template = await self._type_and_template(command)
        keys = await self._client.category_keys(template)
        try:
            for category, values in command.changed.items():
                await self._client.put_category(node_id, keys.category_keys(category), values)
        except (TargetNotFound, SinkRejected) as exc:  # gone, or the category is not on it: read and repair
            log.info("the known workspace did not take a direct update; looking it up",
                     extra={"business_object": command.kafka_key, "node_id": node_id, "error": str(exc)})
            return False
        return True

    @staticmethod
    def _has_sets(command: UpdateWorkspace) -> bool:
        return any(isinstance(v, list | dict) for values in command.changed.values() for v in values.values())

    async def _type_and_template(self, command: WorkspaceCommandType) -> tuple[WorkspaceType, int]:
        """The command's workspace type and template id, by name, from this server's (cached) types."""
        ws_type = pick([(t.name, t) for t in await self._client.workspace_types()], command.workspace_type,
                       what="workspace type", where="OpenText")
        return ws_type, pick_template([(t.name, t.id) for t in ws_type.templates], command.template,
                                      type_name=ws_type.name, where="OpenText")

    async def _workspace_for(self, command: WorkspaceCommandType) -> tuple[int | None, bool]:
        """(node id, created now): ensured from the full metadata, or only looked up for a source delete."""
        if isinstance(command, UpdateWorkspace) and not command.create_if_absent:
            bo = command.business_object
            found = await self._client.find_workspace(
                BusinessObjectRef(ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id))
            return (found.node_id if found else None), False
        ensured = await self._client.ensure_workspace(await self._request_for(command))
        return ensured.node_id, ensured.created

    async def _request_for(self, command: WorkspaceCommandType) -> WorkspaceCreateRequest:
        """The create, built by the one request builder from the ids this server gave the command's names."""
        ws_type, template = await self._type_and_template(command)
        # every name resolved and every value checked before a folder is found or made for it
        categories = create_categories(await self._client.category_keys(template), command.create_categories)
        folder_id = None
        if command.parent_id is None and command.parent_path:
            if ws_type.location_id is None:
                raise MappingError(DeadLetterReason.MAPPING_FAILED,
                                   f"workspace type {ws_type.name!r} has no fixed location for parent_path")
            folder_id = await self._client.ensure_folder_path(
                ws_type.location_id, [part for part in command.parent_path.split("/") if part])
        return create_request(command, type_id=ws_type.id, template_id=template, categories=categories,
                              folder_id=folder_id)
