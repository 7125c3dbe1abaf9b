"""The OpenText sink: applies workspace commands to Content Server through the async client.

OpenText has no idempotency header, so ``ensure_workspace`` is made idempotent here: the client
looks the workspace up by business object before creating it (and again when a create fails), and
a ledger of applied idempotency keys answers a replayed command without calling OpenText at all.
Commands for one business object are applied in order; different objects run concurrently up to
``opentext.concurrency``. Once a command of an object fails transiently, the object's later commands
in the batch are left unfinished too, so order holds when the runner retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pydantic import ValidationError

from xstream.clients.opentext import (
    BusinessObjectRef,
    OpenTextClient,
    WorkspaceCreateRequest,
    WorkspaceType,
    resolve_categories,
)
from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    MappingError,
    SinkBackpressure,
    SinkError,
    SinkUnavailable,
)
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace
from xstream.model.results import SinkResult
from xstream.model.status import WorkspaceLink
from xstream.settings import OpenTextSettings
from xstream.sinks.ledger import Ledger, LedgerStore
from xstream.sinks.ordering import apply_in_order

log = logging.getLogger(__name__)


class OpenTextSink:
    name = "opentext"

    def __init__(self, settings: OpenTextSettings, ledger: Ledger, client: OpenTextClient | None = None,
                 store: LedgerStore | None = None) -> None:
        self._settings = settings
        self._client = client or OpenTextClient(settings)
        self._ledger = ledger
        self._store = store
        self._pending: dict[str, tuple[WorkspaceLink, SinkResult]] = {}
        self._limit = asyncio.Semaphore(settings.concurrency)

    async def start(self) -> None:
        """Log in early so wrong credentials stop the worker at start; an unreachable server does not.

        While OpenText is down the commands stay unfinished, the runner pauses their partitions and
        the client logs in on the first call that gets through.
        """
        try:
            await self._client.login()
        except SinkUnavailable as exc:
            log.warning("OpenText unavailable at start; will log in on first use", extra={"error": str(exc)})

    async def refresh(self) -> None:
        """Re-read the ledger topic: called on every partition assignment, so a partition taken over
        from another worker is judged against everything that worker applied."""
        if self._store is not None:
            entries = await self._store.load()
            self._ledger.restore(entries)
            log.info("ledger restored", extra={"business_objects": len(entries)})

    async def close(self) -> None:
        await self._client.close()
        if self._store is not None:
            await self._store.close()

    async def write(self, batch: Sequence[EnsureWorkspace | UpdateWorkspace]) -> list[SinkResult]:
        return await apply_in_order(batch, self._apply, self._limit)

    async def _apply(self, command: EnsureWorkspace | UpdateWorkspace) -> SinkResult:
        pending = self._pending.get(command.idempotency_key)
        if pending is not None:  # applied, but its ledger entry was not written yet
            return await self._remember(command, *pending)
        known = self._ledger.get(command.idempotency_key)
        if known is not None:
            return SinkResult.already_applied(known)
        bo_key, position = command.kafka_key, command.causation.source_position
        newer_seen = self._ledger.stale(bo_key, position)
        if newer_seen is not None:
            log.info("stale event skipped", extra={"business_object": bo_key, "position": position,
                                                   "idempotency_key": command.idempotency_key})
            return SinkResult.already_applied(newer_seen)
        try:
            node_id, created = await self._workspace_for(command)
            if node_id is None:
                return SinkResult.already_applied()  # a source delete for an object that never had a workspace
            changed = False
            if isinstance(command, UpdateWorkspace) and not created and command.changed:
                # only the attributes whose source values changed; equal values are not re-sent
                await self._client.update_categories(node_id, command.changed)
                changed = True
        except SinkBackpressure as exc:
            return SinkResult.transient(str(exc), retry_after=exc.retry_after)
        except SinkUnavailable as exc:
            return SinkResult.transient(str(exc))
        except AuthenticationFailed as exc:
            # Wrong or rotated credentials fail every command alike: an outage to wait out (partitions
            # pause, /readyz reports the stall), not a reason to dead-letter every command.
            log.error("OpenText refused our credentials", extra={"error": str(exc)})
            return SinkResult.transient(f"authentication failed: {exc}")
        except MappingError as exc:
            return SinkResult.rejected(exc.reason, exc.detail)
        except SinkError as exc:
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"{type(exc).__name__}: {exc}")
        except ValidationError as exc:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND, f"cannot build the request: {exc}")
        except Exception as exc:  # noqa: BLE001 - one poison command must not crash-loop the worker
            log.exception("unexpected error applying a command", extra={"idempotency_key": command.idempotency_key})
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"unexpected {type(exc).__name__}: {exc}")
        link = WorkspaceLink(node_id=node_id, url=self._settings.workspace_url(node_id))
        result = SinkResult.applied(link, created=created) if created or changed else SinkResult.already_applied(link)
        return await self._remember(command, link, result)

    async def _remember(self, command: EnsureWorkspace | UpdateWorkspace, link: WorkspaceLink,
                        result: SinkResult) -> SinkResult:
        """Persist the ledger entry, then remember: if the write fails the result stays pending and the
        runner's retry writes it again and reports the same outcome (no second call to OpenText)."""
        key, bo_key, position = command.idempotency_key, command.kafka_key, command.causation.source_position
        entry = self._ledger.newer_entry(bo_key, position, link)
        if entry is not None and self._store is not None:
            try:
                await self._store.save(entry)  # delivered before the runner commits the command's offset
            except Exception as exc:  # noqa: BLE001 - kept pending; the retry writes it again
                self._pending[key] = (link, result)
                return SinkResult.transient(f"ledger not written: {exc}")
        self._pending.pop(key, None)
        self._ledger.put(key, link)
        self._ledger.advance(bo_key, position, link)
        return result

    async def _workspace_for(self, command: EnsureWorkspace | UpdateWorkspace) -> tuple[int | None, bool]:
        """(node id, created now): ensured from the full metadata, or only looked up for a source delete."""
        if isinstance(command, UpdateWorkspace) and not command.create_if_absent:
            bo = command.business_object
            found = await self._client.find_workspace(
                BusinessObjectRef(ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id))
            return (found.node_id if found else None), False
        ensured = await self._client.ensure_workspace(await self._request_for(command))
        return ensured.node_id, ensured.created

    async def _request_for(self, command: EnsureWorkspace | UpdateWorkspace) -> WorkspaceCreateRequest:
        ws_type = await self._workspace_type(command.workspace_type)
        template = next(
            (t for t in ws_type.templates if command.template in (None, t.name)), None
        )
        if template is None:
            raise MappingError(
                DeadLetterReason.MAPPING_FAILED,
                f"workspace type {ws_type.name!r} has no template {command.template!r}",
            )
        categories = resolve_categories(await self._client.category_keys(template.id), command.create_categories)
        bo = command.business_object
        parent_id = command.parent_id
        if parent_id is None and command.parent_path:
            if ws_type.location_id is None:
                raise MappingError(DeadLetterReason.MAPPING_FAILED,
                                   f"workspace type {ws_type.name!r} has no fixed location for parent_path")
            parent_id = await self._client.ensure_folder_path(
                ws_type.location_id, [part for part in command.parent_path.split("/") if part])
        return WorkspaceCreateRequest(
            template_id=template.id,
            wksp_type_id=ws_type.id,
            name=command.name,
            parent_id=parent_id,
            description=command.description,
            business_object=BusinessObjectRef(ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id),
            categories=categories,
        )

    async def _workspace_type(self, name: str) -> WorkspaceType:
        for ws_type in await self._client.workspace_types():
            if ws_type.name == name:
                return ws_type
        raise MappingError(DeadLetterReason.MAPPING_FAILED, f"OpenText has no workspace type {name!r}")
