"""The downstream HTTP sink: applies ``update_record`` commands to an ERP/CRM/... target.

Each command becomes ``PATCH {base_url}/{entity}/{record_id}`` with the JSON body ``fields`` (merged
into the record by the target) and the headers

- ``Idempotency-Key: "<command.idempotency_key>"`` (IETF httpapi draft, an sf-string): a replayed
  command carries the same key, so the target answers it from its key store instead of applying
  it again. Such an answer carries ``Idempotent-Replayed: true`` (as Stripe does) and becomes
  ``already_applied``;
- ``X-Xstream-Origin: xstream`` and ``X-Xstream-Causation: <source_system>/<entity>/<source_position>``,
  so the target can store who changed what and xstream recognises the echo in the record's CDC.

Results: 2xx -> ``applied`` with a :class:`DownstreamRecord`; permanent errors (400/404/422, 409
without a key) -> ``rejected(REJECTED_BY_TARGET)``; transient errors (timeouts, 5xx, 429/503,
409 "key still in flight", refused credentials) -> unfinished with ``retry_after`` where the target
gave one. The sink never sleeps or retries: the runner retries unfinished results under its one
RetryPolicy and owns the circuit breaker of this target. Commands for one business object
(``kafka_key``) are applied in order; different objects run concurrently up to
``settings.concurrency``. After a transient failure the object's later commands in the batch are
left unfinished too, so order holds when the runner retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import quote

from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    SinkBackpressure,
    SinkError,
    SinkUnavailable,
)
from xstream.model.commands import DownstreamCommand
from xstream.model.results import SinkResult
from xstream.model.status import DownstreamRecord
from xstream.settings import TargetSettings
from xstream.sinks.http import TargetClient
from xstream.sinks.ordering import apply_in_order

log = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"
ORIGIN_HEADER = "X-Xstream-Origin"
CAUSATION_HEADER = "X-Xstream-Causation"


def sf_string(value: str) -> str:
    """``value`` as an RFC 8941 sf-string (quoted, ``\\`` and ``"`` escaped); printable ASCII only."""
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError(f"an Idempotency-Key must be printable ASCII, got {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def causation_header(command: DownstreamCommand) -> str:
    c = command.causation
    return "/".join(quote(part, safe=":@-._~") for part in (c.source_system, c.entity, c.source_position))


class DownstreamSink:
    def __init__(self, name: str, settings: TargetSettings, client: TargetClient | None = None) -> None:
        self.name = name
        self._settings = settings
        self._client = client or TargetClient(name, settings)
        self._limit = asyncio.Semaphore(settings.concurrency)

    @property
    def client(self) -> TargetClient:
        return self._client

    async def start(self) -> None:
        """Fetch an OAuth2 token early so refused credentials stop the worker at start.

        An unreachable target is no reason to stop: its commands stay unfinished until it is back.
        """
        try:
            await self._client.authenticate()
        except SinkUnavailable as exc:
            log.warning("%s unavailable at start; will authenticate on first use", self.name,
                        extra={"error": str(exc)})

    async def close(self) -> None:
        await self._client.close()

    async def write(self, batch: Sequence[DownstreamCommand]) -> list[SinkResult]:
        return await apply_in_order(batch, self._apply, self._limit)

    def record_url(self, entity: str, record_id: str) -> str:
        return self._client.url(self._path(entity, record_id))

    @staticmethod
    def _path(entity: str, record_id: str) -> str:
        return f"{quote(entity, safe='')}/{quote(record_id, safe='')}"

    async def _apply(self, command: DownstreamCommand) -> SinkResult:
        context = {"idempotency_key": command.idempotency_key, "business_object": command.kafka_key}
        if command.target != self.name:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND,
                                       f"command for target {command.target!r} sent to sink {self.name!r}")
        try:
            headers = {"Idempotency-Key": sf_string(command.idempotency_key), ORIGIN_HEADER: command.causation.origin,
                       CAUSATION_HEADER: causation_header(command)}
        except ValueError as exc:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND, str(exc))
        path = self._path(command.entity, command.record_id)
        try:
            response = await self._client.request("records.patch", "PATCH", path, json=command.fields,
                                                  headers=headers)
        except SinkBackpressure as exc:
            return SinkResult.transient(str(exc), retry_after=exc.retry_after)
        except SinkUnavailable as exc:
            return SinkResult.transient(str(exc))
        except AuthenticationFailed as exc:
            # Wrong or rotated credentials fail every command alike: an outage to wait out, not a
            # reason to dead-letter every command.
            log.error("%s refused our credentials", self.name, extra=context | {"error": str(exc)})
            return SinkResult.transient(f"authentication failed: {exc}")
        except SinkError as exc:
            log.warning("%s rejected a command", self.name, extra=context | {"error": str(exc)})
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one poison command must not crash-loop the worker
            log.exception("unexpected error applying a command", extra=context)
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"unexpected {type(exc).__name__}: {exc}")
        record = DownstreamRecord(target=self.name, entity=command.entity, record_id=command.record_id,
                                  url=response.url)
        if response.headers.get(REPLAYED_HEADER, "").strip().lower() == "true":
            return SinkResult.already_applied(downstream=record)
        return SinkResult.applied(downstream=record)
