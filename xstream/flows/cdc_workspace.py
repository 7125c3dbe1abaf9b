"""Flow F1 (first cut): CDC topics of ERP/CRM records -> ``ensure_workspace`` commands.

The agent does I/O only: it hands each record to the pure ``process_cdc`` and sends what comes
back, a command keyed by business object or a dead letter keyed by the original key. Faust
acknowledges an event whose agent raised, so nothing may escape the loop: an unexpected error
becomes a dead letter too, and the flow goes on.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.commands import ORIGIN
from xstream.model.dead_letter import DeadLetter, Payload, Stage
from xstream.model.record import RecordRef
from xstream.observability import Metrics
from xstream.pipeline import Emit, Reject, Skip, process_cdc
from xstream.ports import Clock
from xstream.transform.rules import RuleSet

log = logging.getLogger(__name__)
FLOW = "cdc_to_workspace"


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def register(
    app: faust.App,
    *,
    rules: RuleSet,
    commands_topic: str,
    dead_letter_topic: str,
    max_record_bytes: int,
    metrics: Metrics,
    clock: Clock,
    topic_prefix: str = "",
) -> None:
    source = _raw_topic(app, *(topic_prefix + topic for topic in rules.topics))
    commands = _raw_topic(app, commands_topic)
    dead_letters = _raw_topic(app, dead_letter_topic)
    origin = [("xstream-origin", ORIGIN.encode())]

    async def dead_letter(message: faust.types.Message, record: RecordRef, stage: Stage,
                          reason: DeadLetterReason, detail: str) -> None:
        metrics.dead_letters.labels(stage, reason.value).inc()
        if stage == "decode":
            metrics.decode_failures.labels(reason.value).inc()
        letter = DeadLetter(
            reason=reason, detail=detail, stage=stage, source=record,
            key=Payload.of(message.key) if message.key is not None else None,
            value=Payload.of(message.value) if message.value is not None else None,
            occurred_at=clock.now(),
        )
        log.warning("dead letter", extra={"reason": reason.value, "detail": detail, "record": str(record)})
        await deliver(dead_letters, message.key, encode(letter), origin)

    async def deliver(topic: faust.TopicT, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Send and wait for the broker's ack, so a failed send is seen before the event is acknowledged."""
        delivery = await topic.send(key=key, value=value, headers=headers)
        await delivery

    @app.agent(source, name=FLOW)
    async def cdc_to_workspace(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            record = RecordRef(topic=message.topic, partition=message.partition, offset=message.offset,
                               timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None)
            try:
                outcome = process_cdc(message.key, message.value, record, rules, max_bytes=max_record_bytes,
                                      topic_prefix=topic_prefix)
                if isinstance(outcome, Emit):
                    metrics.events.labels(FLOW, "command").inc()
                    command = outcome.command
                    await deliver(commands, command.kafka_key.encode(), encode(command),
                                  [*origin, ("xstream-idempotency-key", command.idempotency_key.encode())])
                elif isinstance(outcome, Skip):
                    metrics.events.labels(FLOW, "skipped").inc()
                    if outcome.tombstone is not None:
                        metrics.tombstones.labels(record.topic).inc()
                elif isinstance(outcome, Reject):
                    metrics.events.labels(FLOW, "dead_lettered").inc()
                    await dead_letter(message, record, outcome.stage, outcome.reason, outcome.detail)
            except Exception as exc:  # noqa: BLE001 - an agent must never raise (faust would ack and drop)
                log.exception("unexpected error in flow", extra={"record": str(record)})
                metrics.events.labels(FLOW, "dead_lettered").inc()
                try:
                    await dead_letter(message, record, "map", DeadLetterReason.MAPPING_FAILED,
                                      f"unexpected {type(exc).__name__}: {exc}")
                except Exception as fatal:  # noqa: BLE001 - the broker refuses even the dead letter
                    # Not acknowledging is the only safe move: stop the worker before this event is
                    # acked; a restarted worker re-reads it from the last commit.
                    log.critical("cannot dead-letter; stopping the worker", extra={"record": str(record)})
                    await app.crash(fatal)
                    await asyncio.Event().wait()

