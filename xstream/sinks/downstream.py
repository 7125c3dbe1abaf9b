"""The downstream HTTP sink: applies downstream commands to one target (ERP, CRM, chat, ...).

Per command kind:

- ``update_record``: ``PATCH {base_url}/{entity}/{record_id}`` with the JSON body ``fields`` (merged
  into the record by the target);
- ``start_approval``: ``POST {base_url}/{approvals_path}`` with process, subject, the OpenText
  document as reference, the business record and extra fields; the answer's ``id`` is the approval;
- ``notify`` (a ``kind: notify`` target): ``POST <the channel's incoming-webhook URL>`` with the
  message rendered for the target's format (:mod:`.notify_format`); any 2xx is delivered.

Every request carries ``Idempotency-Key: "<command.idempotency_key>"`` (IETF httpapi draft, an
sf-string): a replay carries the same key, so a target that honours it answers from its key store
with ``Idempotent-Replayed: true`` (as Stripe does) -> ``already_applied``; and ``X-Xstream-Origin:
xstream`` and ``X-Xstream-Causation: <source_system>/<entity>/<source_position>``, so the target can
store who changed what and xstream recognises the echo in the record's CDC. Every applied effect
(record update, approval, notification) is recorded in the effect ledger (:mod:`.effects`) before
its command is acknowledged, and a command found there is ``already_applied`` without a call:
targets forget keys (ERP keys expire, incoming webhooks ignore them) and a replayed old update must
not undo a newer one.

Results: 2xx -> ``applied`` with a :class:`DownstreamRecord` (for notifications without the URL: it
holds the webhook's credential); permanent errors (400/404/422, 409 without a key) ->
``rejected(REJECTED_BY_TARGET)``; transient errors (timeouts, 5xx, 429/503, 409 "key still in
flight", refused credentials) -> unfinished with ``retry_after`` where the target gave one. The
sink never sleeps or retries: the runner retries unfinished results under its one RetryPolicy,
keeps per-object order and owns the circuit breaker of this target.
"""

from __future__ import annotations

import logging

from xstream.errors import AnswerLost, DeadLetterReason, SinkUnavailable
from xstream.model.commands import AnyDownstream, Notify, StartApproval, UpdateRecord
from xstream.model.results import SinkResult
from xstream.model.status import DownstreamRecord, Outcome
from xstream.settings import TargetSettings
from xstream.sinks.effects import EffectEntry, EffectLedger
from xstream.sinks.results import result_of
from xstream.sinks.target import TargetClient, TargetResponse
from xstream.streams.state import PartitionedStore
from xstream.transform.downstream_requests import DownstreamRequest, record_path, request_for

log = logging.getLogger(__name__)

REPLAYED_HEADER = "Idempotent-Replayed"


class DownstreamSink:
    def __init__(self, name: str, settings: TargetSettings, effects: EffectLedger,
                 client: TargetClient | None = None) -> None:
        self.name = name
        self._settings = settings
        self._client = client or TargetClient(name, settings)
        self._effects = effects

    @property
    def client(self) -> TargetClient:
        return self._client

    @property
    def state(self) -> PartitionedStore[EffectEntry]:
        """The effect ledger: loaded by the runner for each assigned partition before its first command."""
        return self._effects.state

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

    def record_url(self, entity: str, record_id: str) -> str:
        return self._client.url(record_path(entity, record_id))

    async def apply(self, command: AnyDownstream) -> SinkResult:
        context = {"idempotency_key": command.idempotency_key, "business_object": command.kafka_key,
                   "kind": command.kind}
        if command.target != self.name:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND,
                                       f"command for target {command.target!r} sent to sink {self.name!r}")
        expected = "notify" if isinstance(command, Notify) else "records"
        if self._settings.kind != expected:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND,
                                       f"{command.kind} needs a {expected} target; {self.name} is a "
                                       f"{self._settings.kind} target")
        done = self._effects.applied(command)
        if done is not None:
            return SinkResult.already_applied(downstream=done)
        try:
            request = request_for(command, approvals_path=self._settings.approvals_path, fmt=self._settings.format)
        except ValueError as exc:
            return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND, str(exc))
        try:
            if isinstance(command, UpdateRecord):
                result = await self._update(command, request)
            elif isinstance(command, StartApproval):
                result = await self._start_approval(command, request)
            else:
                result = await self._notify(command, request)
        except Exception as exc:  # noqa: BLE001 - classified once; a poison command must not crash-loop the worker
            return result_of(exc, sink=self.name, context=context)
        if result.downstream is not None and result.outcome is not Outcome.REJECTED:
            await self._effects.record(command, result.downstream)  # durable before the command is acknowledged
        return result

    async def _update(self, command: UpdateRecord, request: DownstreamRequest) -> SinkResult:
        response = await self._send(request)
        record = DownstreamRecord(target=self.name, entity=command.entity, record_id=command.record_id,
                                  url=response.url)
        return SinkResult.already_applied(downstream=record) if _replayed(response) \
            else SinkResult.applied(downstream=record)

    async def _start_approval(self, command: StartApproval, request: DownstreamRequest) -> SinkResult:
        response = await self._send(request)
        approval_id = response.body.get("id") if isinstance(response.body, dict) else None
        if not isinstance(approval_id, str | int) or isinstance(approval_id, bool) or str(approval_id) == "":
            # accepted, but unidentifiable: a retry (same Idempotency-Key) would not tell more; for a person
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET,
                                       f"approvals.create: HTTP {response.status} without the approval's id; "
                                       f"check the target for an approval with Idempotency-Key "
                                       f"{command.idempotency_key}")
        record = DownstreamRecord(target=self.name, entity=request.path, record_id=str(approval_id),
                                  url=self._client.url(record_path(request.path, str(approval_id))))
        return SinkResult.already_applied(downstream=record) if _replayed(response) \
            else SinkResult.applied(downstream=record)

    async def _notify(self, command: Notify, request: DownstreamRequest) -> SinkResult:
        channel = self._settings.channels.get(command.channel.casefold())
        if channel is None:
            return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET,
                                       f"{self.name} has no channel {command.channel!r} (configured: "
                                       f"{', '.join(sorted(self._settings.channels))})")
        record = DownstreamRecord(target=self.name, entity="channels", record_id=command.channel)
        try:
            await self._client.request(request.operation, request.method, "", secret_url=channel.get_secret_value(),
                                       json=request.body, headers=request.headers, idempotent=False,
                                       expect_json=False)
        except AnswerLost as exc:
            if self._settings.delivery == "at_least_once":
                raise  # sent again: the channel may show it twice
            log.warning("%s: a message's answer was lost; not sent again (delivery at_most_once)", self.name,
                        extra={"idempotency_key": command.idempotency_key, "error": str(exc)})
        return SinkResult.applied(downstream=record)

    async def _send(self, request: DownstreamRequest) -> TargetResponse:
        return await self._client.request(request.operation, request.method, request.path, json=request.body,
                                          headers=request.headers)


def _replayed(response: TargetResponse) -> bool:
    return response.headers.get(REPLAYED_HEADER, "").strip().lower() == "true"
