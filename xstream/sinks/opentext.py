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
from xstream.model.commands import EnsureWorkspace, WorkspaceCommand
from xstream.model.results import SinkResult
from xstream.model.status import WorkspaceLink
from xstream.settings import OpenTextSettings
from xstream.sinks.ledger import Ledger

log = logging.getLogger(__name__)


class OpenTextSink:
    name = "opentext"

    def __init__(self, settings: OpenTextSettings, ledger: Ledger, client: OpenTextClient | None = None) -> None:
        self._settings = settings
        self._client = client or OpenTextClient(settings)
        self._ledger = ledger
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

    async def close(self) -> None:
        await self._client.close()

    async def write(self, batch: Sequence[WorkspaceCommand]) -> list[SinkResult]:
        results: dict[int, SinkResult] = {}
        chains: dict[str, list[int]] = {}
        for index, command in enumerate(batch):
            chains.setdefault(command.kafka_key, []).append(index)

        async def run_chain(indexes: list[int]) -> None:
            for position, index in enumerate(indexes):
                async with self._limit:
                    results[index] = await self._apply(batch[index])
                if not results[index].finished:
                    for later in indexes[position + 1:]:
                        results[later] = SinkResult.transient("an earlier command for this object is unfinished")
                    return

        await asyncio.gather(*(run_chain(indexes) for indexes in chains.values()))
        return [results[i] for i in range(len(batch))]

    async def _apply(self, command: EnsureWorkspace) -> SinkResult:
        known = self._ledger.get(command.idempotency_key)
        if known is not None:
            return SinkResult.already_applied(known)
        try:
            request = await self._request_for(command)
            ensured = await self._client.ensure_workspace(request)
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
        link = WorkspaceLink(node_id=ensured.node_id, url=self._settings.workspace_url(ensured.node_id))
        self._ledger.put(command.idempotency_key, link)
        return SinkResult.applied(link) if ensured.created else SinkResult.already_applied(link)

    async def _request_for(self, command: EnsureWorkspace) -> WorkspaceCreateRequest:
        ws_type = await self._workspace_type(command.workspace_type)
        template = next(
            (t for t in ws_type.templates if command.template in (None, t.name)), None
        )
        if template is None:
            raise MappingError(
                DeadLetterReason.MAPPING_FAILED,
                f"workspace type {ws_type.name!r} has no template {command.template!r}",
            )
        categories = resolve_categories(await self._client.category_keys(template.id), command.categories)
        bo = command.business_object
        return WorkspaceCreateRequest(
            template_id=template.id,
            wksp_type_id=ws_type.id,
            name=command.name,
            parent_id=command.parent_id,
            description=command.description,
            business_object=BusinessObjectRef(ext_system_id=bo.ext_system_id, bo_type=bo.bo_type, bo_id=bo.bo_id),
            categories=categories,
        )

    async def _workspace_type(self, name: str) -> WorkspaceType:
        for ws_type in await self._client.workspace_types():
            if ws_type.name == name:
                return ws_type
        raise MappingError(DeadLetterReason.MAPPING_FAILED, f"OpenText has no workspace type {name!r}")
